-- +goose Up
-- create "api_keys" table
CREATE TABLE `api_keys` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `prefix` text NOT NULL, `secret_hash` text NOT NULL, `created_by` text NOT NULL, `last_used_at` datetime NULL, `revoked_at` datetime NULL, `tenant_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `api_keys_tenants_api_keys` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON DELETE NO ACTION);
-- create index "api_keys_secret_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_secret_hash_key` ON `api_keys` (`secret_hash`);
-- create index "apikey_tenant_id" to table: "api_keys"
CREATE INDEX `apikey_tenant_id` ON `api_keys` (`tenant_id`);
-- create "admin_tokens" table
CREATE TABLE `admin_tokens` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `role` text NOT NULL, `name` text NOT NULL, `prefix` text NOT NULL, `secret_hash` text NOT NULL, `last_used_at` datetime NULL, `revoked_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "admin_tokens_secret_hash_key" to table: "admin_tokens"
CREATE UNIQUE INDEX `admin_tokens_secret_hash_key` ON `admin_tokens` (`secret_hash`);
-- create "idempotency_keys" table
CREATE TABLE `idempotency_keys` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `scope` text NOT NULL, `key` text NOT NULL, `request_hash` text NOT NULL, `status` text NOT NULL DEFAULT ('IN_PROGRESS'), `response` blob NULL, `locked_until` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "idempotencykey_scope_key" to table: "idempotency_keys"
CREATE UNIQUE INDEX `idempotencykey_scope_key` ON `idempotency_keys` (`scope`, `key`);
-- create index "idempotencykey_expires_at" to table: "idempotency_keys"
CREATE INDEX `idempotencykey_expires_at` ON `idempotency_keys` (`expires_at`);
-- create "operations" table
CREATE TABLE `operations` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `steps` json NOT NULL, `progress_done` integer NOT NULL DEFAULT (0), `progress_total` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `error_code` text NULL, `error_message` text NULL, `params` json NULL, `result` json NULL, `requested_by` text NOT NULL, `idempotency_key` text NULL, `job_id` integer NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `tenant_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `operations_tenants_operations` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON DELETE NO ACTION);
-- create index "operation_tenant_id_created_at" to table: "operations"
CREATE INDEX `operation_tenant_id_created_at` ON `operations` (`tenant_id`, `created_at`);
-- create index "operation_kind_status" to table: "operations"
CREATE INDEX `operation_kind_status` ON `operations` (`kind`, `status`);
-- create "plans" table
CREATE TABLE `plans` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key` text NOT NULL, `name` text NOT NULL, `isolation` text NOT NULL, `price_cents` integer NOT NULL DEFAULT (0), `position` integer NOT NULL DEFAULT (0), `max_documents` integer NULL, `max_storage_bytes` integer NULL, `max_queries_per_month` integer NULL, PRIMARY KEY (`id`));
-- create index "plans_key_key" to table: "plans"
CREATE UNIQUE INDEX `plans_key_key` ON `plans` (`key`);
-- create "state_transitions" table
CREATE TABLE `state_transitions` (`id` uuid NOT NULL, `seq` integer NOT NULL, `event` text NOT NULL, `from_state` text NULL, `to_state` text NOT NULL, `triggered_by` text NOT NULL, `actor` text NOT NULL, `reason` text NOT NULL DEFAULT (''), `metadata` json NULL, `occurred_at` datetime NOT NULL, `prev_hash` text NOT NULL, `hash` text NOT NULL, `tenant_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `state_transitions_tenants_transitions` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON DELETE NO ACTION);
-- create index "statetransition_tenant_id_seq" to table: "state_transitions"
CREATE UNIQUE INDEX `statetransition_tenant_id_seq` ON `state_transitions` (`tenant_id`, `seq`);
-- create index "statetransition_occurred_at" to table: "state_transitions"
CREATE INDEX `statetransition_occurred_at` ON `state_transitions` (`occurred_at`);
-- create "tenants" table
CREATE TABLE `tenants` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `slug` text NULL, `slug_hash` text NOT NULL, `email` text NULL, `state` text NOT NULL DEFAULT ('PENDING'), `state_before_deletion` text NULL, `state_changed_at` datetime NOT NULL, `history_seq` integer NOT NULL DEFAULT (0), `history_head` text NOT NULL DEFAULT (''), `billing_customer_id` text NULL, `billing_subscription_id` text NULL, `purge_after` datetime NULL, `purged_at` datetime NULL, `plan_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `tenants_plans_plan` FOREIGN KEY (`plan_id`) REFERENCES `plans` (`id`) ON DELETE NO ACTION);
-- create index "tenants_slug_key" to table: "tenants"
CREATE UNIQUE INDEX `tenants_slug_key` ON `tenants` (`slug`);
-- create index "tenant_state" to table: "tenants"
CREATE INDEX `tenant_state` ON `tenants` (`state`);
-- create index "tenant_created_at" to table: "tenants"
CREATE INDEX `tenant_created_at` ON `tenants` (`created_at`);
-- create index "tenant_plan_id" to table: "tenants"
CREATE INDEX `tenant_plan_id` ON `tenants` (`plan_id`);
-- create "tenant_state_counts" table
CREATE TABLE `tenant_state_counts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `state` text NOT NULL, `slot` integer NOT NULL, `count` integer NOT NULL DEFAULT (0));
-- create index "tenantstatecount_state_slot" to table: "tenant_state_counts"
CREATE UNIQUE INDEX `tenantstatecount_state_slot` ON `tenant_state_counts` (`state`, `slot`);

-- +goose Down
-- reverse: create index "tenantstatecount_state_slot" to table: "tenant_state_counts"
DROP INDEX `tenantstatecount_state_slot`;
-- reverse: create "tenant_state_counts" table
DROP TABLE `tenant_state_counts`;
-- reverse: create index "tenant_plan_id" to table: "tenants"
DROP INDEX `tenant_plan_id`;
-- reverse: create index "tenant_created_at" to table: "tenants"
DROP INDEX `tenant_created_at`;
-- reverse: create index "tenant_state" to table: "tenants"
DROP INDEX `tenant_state`;
-- reverse: create index "tenants_slug_key" to table: "tenants"
DROP INDEX `tenants_slug_key`;
-- reverse: create "tenants" table
DROP TABLE `tenants`;
-- reverse: create index "statetransition_occurred_at" to table: "state_transitions"
DROP INDEX `statetransition_occurred_at`;
-- reverse: create index "statetransition_tenant_id_seq" to table: "state_transitions"
DROP INDEX `statetransition_tenant_id_seq`;
-- reverse: create "state_transitions" table
DROP TABLE `state_transitions`;
-- reverse: create index "plans_key_key" to table: "plans"
DROP INDEX `plans_key_key`;
-- reverse: create "plans" table
DROP TABLE `plans`;
-- reverse: create index "operation_kind_status" to table: "operations"
DROP INDEX `operation_kind_status`;
-- reverse: create index "operation_tenant_id_created_at" to table: "operations"
DROP INDEX `operation_tenant_id_created_at`;
-- reverse: create "operations" table
DROP TABLE `operations`;
-- reverse: create index "idempotencykey_expires_at" to table: "idempotency_keys"
DROP INDEX `idempotencykey_expires_at`;
-- reverse: create index "idempotencykey_scope_key" to table: "idempotency_keys"
DROP INDEX `idempotencykey_scope_key`;
-- reverse: create "idempotency_keys" table
DROP TABLE `idempotency_keys`;
-- reverse: create index "admin_tokens_secret_hash_key" to table: "admin_tokens"
DROP INDEX `admin_tokens_secret_hash_key`;
-- reverse: create "admin_tokens" table
DROP TABLE `admin_tokens`;
-- reverse: create index "apikey_tenant_id" to table: "api_keys"
DROP INDEX `apikey_tenant_id`;
-- reverse: create index "api_keys_secret_hash_key" to table: "api_keys"
DROP INDEX `api_keys_secret_hash_key`;
-- reverse: create "api_keys" table
DROP TABLE `api_keys`;
