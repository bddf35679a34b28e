-- Hand-written: the change log of the pooled workspace tables. While a move
-- copies a pool tenant's workspace elsewhere, each row a request writes is
-- recorded here in the request's transaction (wsdriver.Tx.TrackChanges),
-- and the move copies and forgets it.
-- +goose Up
CREATE TABLE workspace_changes (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  tbl       TEXT NOT NULL,
  row_id    TEXT NOT NULL
);
CREATE INDEX workspace_changes_tenant ON workspace_changes (tenant_id, id);

-- +goose Down
DROP TABLE workspace_changes;
