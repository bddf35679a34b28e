-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_tenants" table
CREATE TABLE `new_tenants` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NULL, `slug_hash` text NOT NULL, `email` text NULL, `state` text NOT NULL DEFAULT ('PENDING'), `state_before_deletion` text NULL, `state_changed_at` datetime NOT NULL, `history_seq` integer NOT NULL DEFAULT (0), `history_head` text NOT NULL DEFAULT (''), `billing_customer_id` text NULL, `billing_subscription_id` text NULL, `purge_after` datetime NULL, `purged_at` datetime NULL, `scheduled_plan_key` text NULL, `scheduled_plan_at` datetime NULL, `scheduled_plan_requested_at` datetime NULL, `scheduled_plan_requested_by` text NULL, `scheduled_plan_trigger` text NULL, `scheduled_cancel_at` datetime NULL, `scheduled_cancel_feedback` text NULL, `scheduled_cancel_requested_at` datetime NULL, `scheduled_cancel_requested_by` text NULL, `paused_until` datetime NULL, `synthetic` bool NOT NULL DEFAULT (false), `plan_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `tenants_plans_plan` FOREIGN KEY (`plan_id`) REFERENCES `plans` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "tenants" to new temporary table "new_tenants"
INSERT INTO `new_tenants` (`id`, `created_at`, `updated_at`, `name`, `slug`, `slug_hash`, `email`, `state`, `state_before_deletion`, `state_changed_at`, `history_seq`, `history_head`, `billing_customer_id`, `billing_subscription_id`, `purge_after`, `purged_at`, `scheduled_plan_key`, `scheduled_plan_at`, `scheduled_plan_requested_at`, `scheduled_plan_requested_by`, `scheduled_plan_trigger`, `synthetic`, `plan_id`) SELECT `id`, `created_at`, `updated_at`, `name`, `slug`, `slug_hash`, `email`, `state`, `state_before_deletion`, `state_changed_at`, `history_seq`, `history_head`, `billing_customer_id`, `billing_subscription_id`, `purge_after`, `purged_at`, `scheduled_plan_key`, `scheduled_plan_at`, `scheduled_plan_requested_at`, `scheduled_plan_requested_by`, `scheduled_plan_trigger`, `synthetic`, `plan_id` FROM `tenants`;
-- drop "tenants" table after copying rows
DROP TABLE `tenants`;
-- rename temporary table "new_tenants" to "tenants"
ALTER TABLE `new_tenants` RENAME TO `tenants`;
-- create index "tenants_slug_key" to table: "tenants"
CREATE UNIQUE INDEX `tenants_slug_key` ON `tenants` (`slug`);
-- create index "tenant_state" to table: "tenants"
CREATE INDEX `tenant_state` ON `tenants` (`state`);
-- create index "tenant_created_at" to table: "tenants"
CREATE INDEX `tenant_created_at` ON `tenants` (`created_at`);
-- create index "tenant_plan_id" to table: "tenants"
CREATE INDEX `tenant_plan_id` ON `tenants` (`plan_id`);
-- create index "tenant_scheduled_plan_at" to table: "tenants"
CREATE INDEX `tenant_scheduled_plan_at` ON `tenants` (`scheduled_plan_at`);
-- create index "tenant_purge_after" to table: "tenants"
CREATE INDEX `tenant_purge_after` ON `tenants` (`purge_after`);
-- create index "tenant_scheduled_cancel_at" to table: "tenants"
CREATE INDEX `tenant_scheduled_cancel_at` ON `tenants` (`scheduled_cancel_at`);
-- create index "tenant_paused_until" to table: "tenants"
CREATE INDEX `tenant_paused_until` ON `tenants` (`paused_until`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "tenant_paused_until" to table: "tenants"
DROP INDEX `tenant_paused_until`;
-- reverse: create index "tenant_scheduled_cancel_at" to table: "tenants"
DROP INDEX `tenant_scheduled_cancel_at`;
-- reverse: create index "tenant_purge_after" to table: "tenants"
DROP INDEX `tenant_purge_after`;
-- reverse: create index "tenant_scheduled_plan_at" to table: "tenants"
DROP INDEX `tenant_scheduled_plan_at`;
-- reverse: create index "tenant_plan_id" to table: "tenants"
DROP INDEX `tenant_plan_id`;
-- reverse: create index "tenant_created_at" to table: "tenants"
DROP INDEX `tenant_created_at`;
-- reverse: create index "tenant_state" to table: "tenants"
DROP INDEX `tenant_state`;
-- reverse: create index "tenants_slug_key" to table: "tenants"
DROP INDEX `tenants_slug_key`;
-- reverse: create "new_tenants" table
DROP TABLE `new_tenants`;
