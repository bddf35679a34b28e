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
-- create "charges" table
CREATE TABLE `charges` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `provider` text NOT NULL, `idempotency_key` text NOT NULL, `customer_id` text NOT NULL, `subscription_id` text NOT NULL, `plan_key` text NOT NULL, `amount_cents` integer NOT NULL, PRIMARY KEY (`id`));
-- create index "charges_idempotency_key_key" to table: "charges"
CREATE UNIQUE INDEX `charges_idempotency_key_key` ON `charges` (`idempotency_key`);
-- create "idempotency_keys" table
CREATE TABLE `idempotency_keys` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key_hash` text NOT NULL, `scope` text NOT NULL, `request_hash` text NOT NULL, `status` text NOT NULL DEFAULT ('IN_PROGRESS'), `response` blob NULL, `locked_until` datetime NOT NULL, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "idempotency_keys_key_hash_key" to table: "idempotency_keys"
CREATE UNIQUE INDEX `idempotency_keys_key_hash_key` ON `idempotency_keys` (`key_hash`);
-- create index "idempotencykey_expires_at" to table: "idempotency_keys"
CREATE INDEX `idempotencykey_expires_at` ON `idempotency_keys` (`expires_at`);
-- create "key_sets" table
CREATE TABLE `key_sets` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `tenant_id` uuid NOT NULL, `signing_key` blob NOT NULL, PRIMARY KEY (`id`));
-- create index "key_sets_tenant_id_key" to table: "key_sets"
CREATE UNIQUE INDEX `key_sets_tenant_id_key` ON `key_sets` (`tenant_id`);
-- create "milestones" table
CREATE TABLE `milestones` (`id` uuid NOT NULL, `tenant_id` uuid NOT NULL, `name` text NOT NULL, `occurred_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "milestone_tenant_id_name" to table: "milestones"
CREATE UNIQUE INDEX `milestone_tenant_id_name` ON `milestones` (`tenant_id`, `name`);
-- create index "milestone_name_occurred_at" to table: "milestones"
CREATE INDEX `milestone_name_occurred_at` ON `milestones` (`name`, `occurred_at`);
-- create "operations" table
CREATE TABLE `operations` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `status` text NOT NULL DEFAULT ('QUEUED'), `steps` json NOT NULL, `progress_done` integer NOT NULL DEFAULT (0), `progress_total` integer NOT NULL DEFAULT (0), `attempt` integer NOT NULL DEFAULT (0), `error_code` text NULL, `error_message` text NULL, `params` json NULL, `result` json NULL, `requested_by` text NOT NULL, `idempotency_key` text NULL, `job_id` integer NULL, `started_at` datetime NULL, `finished_at` datetime NULL, `tenant_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `operations_tenants_operations` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON DELETE NO ACTION);
-- create index "operation_tenant_id_created_at" to table: "operations"
CREATE INDEX `operation_tenant_id_created_at` ON `operations` (`tenant_id`, `created_at`);
-- create index "operation_kind_status" to table: "operations"
CREATE INDEX `operation_kind_status` ON `operations` (`kind`, `status`);
-- create "outbox_messages" table
CREATE TABLE `outbox_messages` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `tenant_id` uuid NULL, `kind` text NOT NULL, `dedupe_key` text NOT NULL, `message_id` text NOT NULL, `to_address` text NOT NULL, `subject` text NOT NULL, `text_body` text NOT NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `last_error` text NULL, `sent_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "outbox_messages_dedupe_key_key" to table: "outbox_messages"
CREATE UNIQUE INDEX `outbox_messages_dedupe_key_key` ON `outbox_messages` (`dedupe_key`);
-- create index "outboxmessage_tenant_id" to table: "outbox_messages"
CREATE INDEX `outboxmessage_tenant_id` ON `outbox_messages` (`tenant_id`);
-- create index "outboxmessage_status_created_at" to table: "outbox_messages"
CREATE INDEX `outboxmessage_status_created_at` ON `outbox_messages` (`status`, `created_at`);
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
-- create "webhook_events" table
CREATE TABLE `webhook_events` (`id` text NOT NULL, `provider` text NOT NULL, `type` text NOT NULL, `outcome` text NOT NULL, `received_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create "workspaces" table
CREATE TABLE `workspaces` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `tenant_id` uuid NOT NULL, `isolation` text NOT NULL, `location` text NOT NULL, `destroyed_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "workspaces_tenant_id_key" to table: "workspaces"
CREATE UNIQUE INDEX `workspaces_tenant_id_key` ON `workspaces` (`tenant_id`);

-- +goose Down
-- reverse: create index "workspaces_tenant_id_key" to table: "workspaces"
DROP INDEX `workspaces_tenant_id_key`;
-- reverse: create "workspaces" table
DROP TABLE `workspaces`;
-- reverse: create "webhook_events" table
DROP TABLE `webhook_events`;
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
-- reverse: create index "outboxmessage_status_created_at" to table: "outbox_messages"
DROP INDEX `outboxmessage_status_created_at`;
-- reverse: create index "outboxmessage_tenant_id" to table: "outbox_messages"
DROP INDEX `outboxmessage_tenant_id`;
-- reverse: create index "outbox_messages_dedupe_key_key" to table: "outbox_messages"
DROP INDEX `outbox_messages_dedupe_key_key`;
-- reverse: create "outbox_messages" table
DROP TABLE `outbox_messages`;
-- reverse: create index "operation_kind_status" to table: "operations"
DROP INDEX `operation_kind_status`;
-- reverse: create index "operation_tenant_id_created_at" to table: "operations"
DROP INDEX `operation_tenant_id_created_at`;
-- reverse: create "operations" table
DROP TABLE `operations`;
-- reverse: create index "milestone_name_occurred_at" to table: "milestones"
DROP INDEX `milestone_name_occurred_at`;
-- reverse: create index "milestone_tenant_id_name" to table: "milestones"
DROP INDEX `milestone_tenant_id_name`;
-- reverse: create "milestones" table
DROP TABLE `milestones`;
-- reverse: create index "key_sets_tenant_id_key" to table: "key_sets"
DROP INDEX `key_sets_tenant_id_key`;
-- reverse: create "key_sets" table
DROP TABLE `key_sets`;
-- reverse: create index "idempotencykey_expires_at" to table: "idempotency_keys"
DROP INDEX `idempotencykey_expires_at`;
-- reverse: create index "idempotency_keys_key_hash_key" to table: "idempotency_keys"
DROP INDEX `idempotency_keys_key_hash_key`;
-- reverse: create "idempotency_keys" table
DROP TABLE `idempotency_keys`;
-- reverse: create index "charges_idempotency_key_key" to table: "charges"
DROP INDEX `charges_idempotency_key_key`;
-- reverse: create "charges" table
DROP TABLE `charges`;
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
