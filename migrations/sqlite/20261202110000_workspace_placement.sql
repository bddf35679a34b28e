-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_workspaces" table
CREATE TABLE `new_workspaces` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `tenant_id` uuid NOT NULL, `isolation` text NOT NULL, `location` text NOT NULL, `generation` integer NOT NULL DEFAULT (1), `target_isolation` text NULL, `target_location` text NULL, `destroyed_at` datetime NULL, PRIMARY KEY (`id`));
-- copy rows from old table "workspaces" to new temporary table "new_workspaces"
INSERT INTO `new_workspaces` (`id`, `created_at`, `updated_at`, `tenant_id`, `isolation`, `location`, `destroyed_at`) SELECT `id`, `created_at`, `updated_at`, `tenant_id`, `isolation`, `location`, `destroyed_at` FROM `workspaces`;
-- drop "workspaces" table after copying rows
DROP TABLE `workspaces`;
-- rename temporary table "new_workspaces" to "workspaces"
ALTER TABLE `new_workspaces` RENAME TO `workspaces`;
-- create index "workspaces_tenant_id_key" to table: "workspaces"
CREATE UNIQUE INDEX `workspaces_tenant_id_key` ON `workspaces` (`tenant_id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "workspaces_tenant_id_key" to table: "workspaces"
DROP INDEX `workspaces_tenant_id_key`;
-- reverse: create "new_workspaces" table
DROP TABLE `new_workspaces`;
