CREATE TABLE files (
  id           bigserial PRIMARY KEY,
  item_id      bigint NOT NULL REFERENCES items (id),
  filename     text NOT NULL,
  content_type text,
  byte_size    bigint NOT NULL DEFAULT 0,
  checksum     text,
  created_at   timestamp(6) NOT NULL DEFAULT now(),
  updated_at   timestamp(6) NOT NULL DEFAULT now()
);
CREATE INDEX index_files_on_item_id ON files (item_id);
