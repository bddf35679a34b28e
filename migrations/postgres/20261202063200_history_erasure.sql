-- Hand-written: the history stays append-only, with one exception — the
-- erasure, at purge, of a chain-version-2 row's erasable text (reason,
-- private, and the salt that makes its commitment text_hash unguessable).
-- Everything the hash covers is unchanged by it, so the chain still
-- verifies; any other UPDATE, a second erasure, DELETE and TRUNCATE are
-- refused as before.
-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantd_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.chain_version = 2 AND OLD.erased_at IS NULL
     AND NEW.reason = '' AND NEW.private IS NULL AND NEW.text_salt = '' AND NEW.erased_at IS NOT NULL
     AND (NEW.id, NEW.tenant_id, NEW.seq, NEW.event, NEW.from_state, NEW.to_state, NEW.triggered_by,
          NEW.actor, NEW.metadata, NEW.occurred_at, NEW.prev_hash, NEW.hash, NEW.chain_version, NEW.text_hash)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.tenant_id, OLD.seq, OLD.event, OLD.from_state, OLD.to_state, OLD.triggered_by,
          OLD.actor, OLD.metadata, OLD.occurred_at, OLD.prev_hash, OLD.hash, OLD.chain_version, OLD.text_hash)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'state_transitions is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenantd_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'state_transitions is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
