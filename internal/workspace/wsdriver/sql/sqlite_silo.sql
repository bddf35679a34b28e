-- A silo tenant's own SQLite database file. Every statement is idempotent:
-- provisioning may run it again after a crash.
CREATE TABLE IF NOT EXISTS documents (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  title      TEXT NOT NULL,
  content    TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_created ON documents (tenant_id, created_at, id);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
  title, content, content='documents', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS documents_fts_insert AFTER INSERT ON documents BEGIN
  INSERT INTO documents_fts(rowid, title, content) VALUES (new.rowid, new.title, new.content);
END;
CREATE TRIGGER IF NOT EXISTS documents_fts_delete AFTER DELETE ON documents BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, content) VALUES ('delete', old.rowid, old.title, old.content);
END;
CREATE TABLE IF NOT EXISTS query_log (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  query      TEXT NOT NULL,
  hits       INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS query_log_created ON query_log (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS workspace_usage (
  tenant_id   TEXT PRIMARY KEY,
  documents   INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  query_month TEXT    NOT NULL DEFAULT '',
  queries     INTEGER NOT NULL DEFAULT 0
);
-- The change log of a move (wsdriver.Tx.TrackChanges): rows written while
-- the workspace is being copied elsewhere.
CREATE TABLE IF NOT EXISTS workspace_changes (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  tbl       TEXT NOT NULL,
  row_id    TEXT NOT NULL
);
-- A move's scans in id order (and the change log's reads).
CREATE INDEX IF NOT EXISTS documents_scan ON documents (tenant_id, id);
CREATE INDEX IF NOT EXISTS query_log_scan ON query_log (tenant_id, id);
