-- +goose Up
-- add column "owner" to table: "idempotency_keys"
ALTER TABLE `idempotency_keys` ADD COLUMN `owner` text NOT NULL;

-- +goose Down
-- reverse: add column "owner" to table: "idempotency_keys"
ALTER TABLE `idempotency_keys` DROP COLUMN `owner`;
