-- Hand-written: the tenant history is append-only. The application never
-- updates or deletes it; this trigger makes the database refuse it too.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION tenantd_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'state_transitions is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER state_transitions_append_only
  BEFORE UPDATE OR DELETE ON state_transitions
  FOR EACH ROW EXECUTE FUNCTION tenantd_history_append_only();
CREATE TRIGGER state_transitions_no_truncate
  BEFORE TRUNCATE ON state_transitions
  FOR EACH STATEMENT EXECUTE FUNCTION tenantd_history_append_only();

-- +goose Down
DROP TRIGGER state_transitions_no_truncate ON state_transitions;
DROP TRIGGER state_transitions_append_only ON state_transitions;
DROP FUNCTION tenantd_history_append_only();
