CREATE TABLE collections (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  description text,
  created_at  timestamp(6) NOT NULL DEFAULT now(),
  updated_at  timestamp(6) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX index_collections_on_name ON collections (name);
