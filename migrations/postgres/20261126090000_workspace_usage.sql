-- Hand-written: per-tenant usage counters of the pooled workspace, checked
-- and bumped in the same statement as the quota check (documents, bytes,
-- queries this month). Row-level security like the other pooled tables.
-- +goose Up
CREATE TABLE workspace_usage (
  tenant_id   uuid PRIMARY KEY,
  documents   bigint NOT NULL DEFAULT 0,
  bytes       bigint NOT NULL DEFAULT 0,
  query_month text   NOT NULL DEFAULT '',
  queries     bigint NOT NULL DEFAULT 0
);
ALTER TABLE workspace_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspace_usage
  USING (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid);

-- +goose Down
DROP TABLE workspace_usage;
