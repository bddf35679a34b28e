-- +goose Up
-- modify "state_transitions" table
ALTER TABLE "state_transitions" ADD COLUMN "private" jsonb NULL, ADD COLUMN "chain_version" bigint NOT NULL DEFAULT 1, ADD COLUMN "text_salt" character varying NOT NULL DEFAULT '', ADD COLUMN "text_hash" character varying NOT NULL DEFAULT '', ADD COLUMN "erased_at" timestamptz NULL;

-- +goose Down
-- reverse: modify "state_transitions" table
ALTER TABLE "state_transitions" DROP COLUMN "erased_at", DROP COLUMN "text_hash", DROP COLUMN "text_salt", DROP COLUMN "chain_version", DROP COLUMN "private";
