-- Hand-written: the pooled workspace tables (free and starter plans), shared
-- by every pool tenant and keyed by tenant_id, with an FTS5 index kept in
-- step by triggers.
-- +goose Up
CREATE TABLE documents (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  title      TEXT NOT NULL,
  content    TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX documents_created ON documents (tenant_id, created_at, id);
CREATE VIRTUAL TABLE documents_fts USING fts5(
  title, content, content='documents', content_rowid='rowid', tokenize='porter unicode61'
);
-- +goose StatementBegin
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
  INSERT INTO documents_fts(rowid, title, content) VALUES (new.rowid, new.title, new.content);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, content) VALUES ('delete', old.rowid, old.title, old.content);
END;
-- +goose StatementEnd
CREATE TABLE query_log (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  query      TEXT NOT NULL,
  hits       INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX query_log_created ON query_log (tenant_id, created_at);

-- +goose Down
DROP TABLE query_log;
DROP TRIGGER documents_fts_delete;
DROP TRIGGER documents_fts_insert;
DROP TABLE documents_fts;
DROP TABLE documents;
