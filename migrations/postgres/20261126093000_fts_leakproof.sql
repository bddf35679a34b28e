-- Hand-written: row-level security lets the planner use an index only for
-- leakproof operators; the full-text match operator (tsvector @@ tsquery) is
-- not marked leakproof, so pooled searches would scan every row of the
-- tenant instead of using the GIN index. ts_match_vq raises no errors that
-- could leak a row's contents, so it is marked LEAKPROOF — which only a
-- superuser may do. Without one, the migration goes on and pooled search
-- stays correct but slower (see README, "PostgreSQL roles").
-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'ts_match_vq was not marked LEAKPROOF (that needs a superuser): pooled full-text search under row-level security cannot use its GIN index';
END
$$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
