-- Hand-written: the pooled workspace tables (free and starter plans), shared
-- by every pool tenant and keyed by tenant_id. Row-level security, enabled
-- and forced (so it binds the table owner too), is the second wall behind
-- the application's own filtering: a transaction sees only the rows of the
-- tenant it set with set_config('tenantd.tenant_id', …, true), and none if it
-- set no tenant.
-- +goose Up
CREATE TABLE documents (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  title      text NOT NULL,
  content    text NOT NULL,
  size_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL,
  search     tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')
  ) STORED
);
CREATE INDEX documents_search ON documents USING gin (search);
CREATE INDEX documents_created ON documents (tenant_id, created_at, id);
CREATE TABLE query_log (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  query      text NOT NULL,
  hits       integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX query_log_created ON query_log (tenant_id, created_at);

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON documents
  USING (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid);
ALTER TABLE query_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON query_log
  USING (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid);

-- +goose Down
DROP TABLE query_log;
DROP TABLE documents;
