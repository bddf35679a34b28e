-- +goose Up
-- add column "lease_owner" to table: "exports"
ALTER TABLE `exports` ADD COLUMN `lease_owner` text NULL;
-- add column "lease_until" to table: "exports"
ALTER TABLE `exports` ADD COLUMN `lease_until` datetime NULL;

-- +goose Down
-- reverse: add column "lease_until" to table: "exports"
ALTER TABLE `exports` DROP COLUMN `lease_until`;
-- reverse: add column "lease_owner" to table: "exports"
ALTER TABLE `exports` DROP COLUMN `lease_owner`;
