-- Hand-written: the history stays append-only, with one exception — the
-- erasure, at purge, of a chain-version-2 row's erasable text (reason,
-- private, and the salt that makes its commitment text_hash unguessable).
-- Everything the hash covers is unchanged by it, so the chain still
-- verifies; any other UPDATE, a second erasure and DELETE are refused.
-- The migration before rebuilt the table (SQLite adds columns that way),
-- which dropped its triggers: both are made again here.
-- +goose Up
DROP TRIGGER IF EXISTS state_transitions_no_update;
DROP TRIGGER IF EXISTS state_transitions_no_delete;
-- +goose StatementBegin
CREATE TRIGGER state_transitions_no_delete BEFORE DELETE ON state_transitions
BEGIN
  SELECT RAISE(ABORT, 'state_transitions is append-only: DELETE rejected');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER state_transitions_no_update BEFORE UPDATE ON state_transitions
WHEN NOT (OLD.chain_version = 2 AND OLD.erased_at IS NULL
  AND NEW.reason = '' AND NEW.private IS NULL AND NEW.text_salt = '' AND NEW.erased_at IS NOT NULL
  AND NEW.id IS OLD.id AND NEW.tenant_id IS OLD.tenant_id AND NEW.seq IS OLD.seq AND NEW.event IS OLD.event
  AND NEW.from_state IS OLD.from_state AND NEW.to_state IS OLD.to_state AND NEW.triggered_by IS OLD.triggered_by
  AND NEW.actor IS OLD.actor AND NEW.metadata IS OLD.metadata AND NEW.occurred_at IS OLD.occurred_at
  AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash AND NEW.chain_version IS OLD.chain_version
  AND NEW.text_hash IS OLD.text_hash)
BEGIN
  SELECT RAISE(ABORT, 'state_transitions is append-only: UPDATE rejected');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS state_transitions_no_update;
-- +goose StatementBegin
CREATE TRIGGER state_transitions_no_update BEFORE UPDATE ON state_transitions
BEGIN
  SELECT RAISE(ABORT, 'state_transitions is append-only: UPDATE rejected');
END;
-- +goose StatementEnd
