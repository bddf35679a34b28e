-- A silo tenant's own schema on PostgreSQL. {{schema}} is replaced by the
-- tenant's schema name. Every statement is idempotent: provisioning may run
-- it again after a crash.
CREATE SCHEMA IF NOT EXISTS {{schema}};
CREATE TABLE IF NOT EXISTS {{schema}}.documents (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  title      text NOT NULL,
  content    text NOT NULL,
  size_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL,
  -- The title and the first 1 MiB of the content (see the migration that
  -- made public.tenantd_document_search); scope.go, searchVector.
  search     tsvector GENERATED ALWAYS AS (public.tenantd_document_search(title, content)) STORED
);
CREATE INDEX IF NOT EXISTS documents_search ON {{schema}}.documents USING gin (search);
CREATE INDEX IF NOT EXISTS documents_created ON {{schema}}.documents (tenant_id, created_at, id);
CREATE TABLE IF NOT EXISTS {{schema}}.query_log (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  query      text NOT NULL,
  hits       integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS query_log_created ON {{schema}}.query_log (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS {{schema}}.workspace_usage (
  tenant_id   uuid PRIMARY KEY,
  documents   bigint NOT NULL DEFAULT 0,
  bytes       bigint NOT NULL DEFAULT 0,
  query_month text   NOT NULL DEFAULT '',
  queries     bigint NOT NULL DEFAULT 0
);
-- The change log of a move (wsdriver.Tx.TrackChanges): rows written while
-- the workspace is being copied elsewhere.
CREATE TABLE IF NOT EXISTS {{schema}}.workspace_changes (
  id        bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  tbl       text NOT NULL,
  row_id    uuid NOT NULL
);
-- A move's scans in id order (and the change log's reads).
CREATE INDEX IF NOT EXISTS documents_scan ON {{schema}}.documents (tenant_id, id);
CREATE INDEX IF NOT EXISTS query_log_scan ON {{schema}}.query_log (tenant_id, id);
