-- Hand-written: per-tenant usage counters of the pooled workspace, checked
-- and bumped in the same statement as the quota check.
-- +goose Up
CREATE TABLE workspace_usage (
  tenant_id   TEXT PRIMARY KEY,
  documents   INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  query_month TEXT    NOT NULL DEFAULT '',
  queries     INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE workspace_usage;
