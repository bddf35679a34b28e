-- Hand-written: the change log of the pooled workspace tables. While a move
-- copies a pool tenant's workspace elsewhere, each row a request writes is
-- recorded here in the request's transaction (wsdriver.Tx.TrackChanges),
-- and the move copies and forgets it. Row-level security like the other
-- pooled tables.
-- The scans of a move read a tenant's rows in id order, a batch at a time:
-- without (tenant_id, id) each batch would sort all the tenant's rows.
-- +goose Up
CREATE INDEX documents_scan ON documents (tenant_id, id);
CREATE INDEX query_log_scan ON query_log (tenant_id, id);
CREATE TABLE workspace_changes (
  id        bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL,
  tbl       text NOT NULL,
  row_id    uuid NOT NULL
);
CREATE INDEX workspace_changes_tenant ON workspace_changes (tenant_id, id);
ALTER TABLE workspace_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workspace_changes
  USING (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('tenantd.tenant_id', true), '')::uuid);

-- +goose Down
DROP TABLE workspace_changes;
DROP INDEX query_log_scan;
DROP INDEX documents_scan;
