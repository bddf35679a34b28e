-- Hand-written: the tenant history is append-only. The application never
-- updates or deletes it; these triggers make the database refuse it too.
-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER state_transitions_no_update BEFORE UPDATE ON state_transitions
BEGIN
  SELECT RAISE(ABORT, 'state_transitions is append-only: UPDATE rejected');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER state_transitions_no_delete BEFORE DELETE ON state_transitions
BEGIN
  SELECT RAISE(ABORT, 'state_transitions is append-only: DELETE rejected');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER state_transitions_no_delete;
DROP TRIGGER state_transitions_no_update;
