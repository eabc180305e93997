CREATE TABLE items (
  id            bigserial PRIMARY KEY,
  collection_id bigint NOT NULL REFERENCES collections (id),
  identifier    text NOT NULL,
  title         text NOT NULL,
  metadata      jsonb NOT NULL DEFAULT '{}',
  created_at    timestamp(6) NOT NULL DEFAULT now(),
  updated_at    timestamp(6) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX index_items_on_identifier ON items (identifier);
CREATE INDEX index_items_on_collection_id ON items (collection_id);
