-- +goose Up
-- modify "exports" table
ALTER TABLE "exports" ADD COLUMN "lease_owner" character varying NULL, ADD COLUMN "lease_until" timestamptz NULL;

-- +goose Down
-- reverse: modify "exports" table
ALTER TABLE "exports" DROP COLUMN "lease_until", DROP COLUMN "lease_owner";
