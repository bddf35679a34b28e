-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_tenants" table
CREATE TABLE `new_tenants` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NULL, `slug_hash` text NOT NULL, `email` text NULL, `state` text NOT NULL DEFAULT ('PENDING'), `state_before_deletion` text NULL, `state_changed_at` datetime NOT NULL, `history_seq` integer NOT NULL DEFAULT (0), `history_head` text NOT NULL DEFAULT (''), `billing_customer_id` text NULL, `billing_subscription_id` text NULL, `purge_after` datetime NULL, `purged_at` datetime NULL, `synthetic` bool NOT NULL DEFAULT (false), `plan_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `tenants_plans_plan` FOREIGN KEY (`plan_id`) REFERENCES `plans` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "tenants" to new temporary table "new_tenants"
INSERT INTO `new_tenants` (`id`, `created_at`, `updated_at`, `name`, `slug`, `slug_hash`, `email`, `state`, `state_before_deletion`, `state_changed_at`, `history_seq`, `history_head`, `billing_customer_id`, `billing_subscription_id`, `purge_after`, `purged_at`, `plan_id`) SELECT `id`, `created_at`, `updated_at`, `name`, `slug`, `slug_hash`, `email`, `state`, `state_before_deletion`, `state_changed_at`, `history_seq`, `history_head`, `billing_customer_id`, `billing_subscription_id`, `purge_after`, `purged_at`, `plan_id` FROM `tenants`;
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
-- create "activations" table
CREATE TABLE `activations` (`id` uuid NOT NULL, `plan_key` text NOT NULL, `signed_up_at` datetime NOT NULL, `provisioned_at` datetime NULL, `first_upload_at` datetime NULL, `first_query_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "activation_signed_up_at" to table: "activations"
CREATE INDEX `activation_signed_up_at` ON `activations` (`signed_up_at`);
-- create index "activation_stuck_signed_up" to table: "activations"
CREATE INDEX `activation_stuck_signed_up` ON `activations` (`signed_up_at`) WHERE provisioned_at IS NULL;
-- create index "activation_stuck_provisioned" to table: "activations"
CREATE INDEX `activation_stuck_provisioned` ON `activations` (`signed_up_at`) WHERE provisioned_at IS NOT NULL AND first_upload_at IS NULL;
-- create index "activation_stuck_first_upload" to table: "activations"
CREATE INDEX `activation_stuck_first_upload` ON `activations` (`signed_up_at`) WHERE first_upload_at IS NOT NULL AND first_query_at IS NULL;
-- create "funnel_counts" table
CREATE TABLE `funnel_counts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `day` datetime NOT NULL, `plan_key` text NOT NULL, `metric` text NOT NULL, `bucket` integer NOT NULL DEFAULT (0), `slot` integer NOT NULL DEFAULT (0), `count` integer NOT NULL DEFAULT (0));
-- create index "funnelcount_day_plan_key_metric_bucket_slot" to table: "funnel_counts"
CREATE UNIQUE INDEX `funnelcount_day_plan_key_metric_bucket_slot` ON `funnel_counts` (`day`, `plan_key`, `metric`, `bucket`, `slot`);
-- create "readiness_checks" table
CREATE TABLE `readiness_checks` (`id` uuid NOT NULL, `run_id` uuid NOT NULL, `name` text NOT NULL, `status` text NOT NULL, `summary` text NOT NULL, `evidence` json NULL, `started_at` datetime NOT NULL, `duration_ms` integer NOT NULL, PRIMARY KEY (`id`));
-- create index "readinesscheck_started_at" to table: "readiness_checks"
CREATE INDEX `readinesscheck_started_at` ON `readiness_checks` (`started_at`);
-- create index "readinesscheck_run_id" to table: "readiness_checks"
CREATE INDEX `readinesscheck_run_id` ON `readiness_checks` (`run_id`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "readinesscheck_run_id" to table: "readiness_checks"
DROP INDEX `readinesscheck_run_id`;
-- reverse: create index "readinesscheck_started_at" to table: "readiness_checks"
DROP INDEX `readinesscheck_started_at`;
-- reverse: create "readiness_checks" table
DROP TABLE `readiness_checks`;
-- reverse: create index "funnelcount_day_plan_key_metric_bucket_slot" to table: "funnel_counts"
DROP INDEX `funnelcount_day_plan_key_metric_bucket_slot`;
-- reverse: create "funnel_counts" table
DROP TABLE `funnel_counts`;
-- reverse: create index "activation_stuck_first_upload" to table: "activations"
DROP INDEX `activation_stuck_first_upload`;
-- reverse: create index "activation_stuck_provisioned" to table: "activations"
DROP INDEX `activation_stuck_provisioned`;
-- reverse: create index "activation_stuck_signed_up" to table: "activations"
DROP INDEX `activation_stuck_signed_up`;
-- reverse: create index "activation_signed_up_at" to table: "activations"
DROP INDEX `activation_signed_up_at`;
-- reverse: create "activations" table
DROP TABLE `activations`;
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
