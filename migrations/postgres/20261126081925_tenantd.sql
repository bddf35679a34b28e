-- +goose Up
-- create "webhook_events" table
CREATE TABLE "webhook_events" ("id" character varying NOT NULL, "provider" character varying NOT NULL, "type" character varying NOT NULL, "outcome" character varying NOT NULL, "received_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create "admin_tokens" table
CREATE TABLE "admin_tokens" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "role" character varying NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL, "secret_hash" character varying NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "admin_tokens_secret_hash_key" to table: "admin_tokens"
CREATE UNIQUE INDEX "admin_tokens_secret_hash_key" ON "admin_tokens" ("secret_hash");
-- create "charges" table
CREATE TABLE "charges" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "provider" character varying NOT NULL, "idempotency_key" character varying NOT NULL, "customer_id" character varying NOT NULL, "subscription_id" character varying NOT NULL, "plan_key" character varying NOT NULL, "amount_cents" bigint NOT NULL, PRIMARY KEY ("id"));
-- create index "charges_idempotency_key_key" to table: "charges"
CREATE UNIQUE INDEX "charges_idempotency_key_key" ON "charges" ("idempotency_key");
-- create "idempotency_keys" table
CREATE TABLE "idempotency_keys" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "key_hash" character varying NOT NULL, "scope" character varying NOT NULL, "request_hash" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'IN_PROGRESS', "response" bytea NULL, "locked_until" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "idempotency_keys_key_hash_key" to table: "idempotency_keys"
CREATE UNIQUE INDEX "idempotency_keys_key_hash_key" ON "idempotency_keys" ("key_hash");
-- create index "idempotencykey_expires_at" to table: "idempotency_keys"
CREATE INDEX "idempotencykey_expires_at" ON "idempotency_keys" ("expires_at");
-- create "key_sets" table
CREATE TABLE "key_sets" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "tenant_id" uuid NOT NULL, "signing_key" bytea NOT NULL, PRIMARY KEY ("id"));
-- create index "key_sets_tenant_id_key" to table: "key_sets"
CREATE UNIQUE INDEX "key_sets_tenant_id_key" ON "key_sets" ("tenant_id");
-- create "milestones" table
CREATE TABLE "milestones" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying NOT NULL, "occurred_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "milestone_name_occurred_at" to table: "milestones"
CREATE INDEX "milestone_name_occurred_at" ON "milestones" ("name", "occurred_at");
-- create index "milestone_tenant_id_name" to table: "milestones"
CREATE UNIQUE INDEX "milestone_tenant_id_name" ON "milestones" ("tenant_id", "name");
-- create "outbox_messages" table
CREATE TABLE "outbox_messages" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "tenant_id" uuid NULL, "kind" character varying NOT NULL, "dedupe_key" character varying NOT NULL, "message_id" character varying NOT NULL, "to_address" character varying NOT NULL, "subject" character varying NOT NULL, "text_body" text NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "attempts" bigint NOT NULL DEFAULT 0, "last_error" character varying NULL, "sent_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "outbox_messages_dedupe_key_key" to table: "outbox_messages"
CREATE UNIQUE INDEX "outbox_messages_dedupe_key_key" ON "outbox_messages" ("dedupe_key");
-- create index "outboxmessage_status_created_at" to table: "outbox_messages"
CREATE INDEX "outboxmessage_status_created_at" ON "outbox_messages" ("status", "created_at");
-- create index "outboxmessage_tenant_id" to table: "outbox_messages"
CREATE INDEX "outboxmessage_tenant_id" ON "outbox_messages" ("tenant_id");
-- create "plans" table
CREATE TABLE "plans" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "key" character varying NOT NULL, "name" character varying NOT NULL, "isolation" character varying NOT NULL, "price_cents" bigint NOT NULL DEFAULT 0, "position" bigint NOT NULL DEFAULT 0, "max_documents" bigint NULL, "max_storage_bytes" bigint NULL, "max_queries_per_month" bigint NULL, PRIMARY KEY ("id"));
-- create index "plans_key_key" to table: "plans"
CREATE UNIQUE INDEX "plans_key_key" ON "plans" ("key");
-- create "workspaces" table
CREATE TABLE "workspaces" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "tenant_id" uuid NOT NULL, "isolation" character varying NOT NULL, "location" character varying NOT NULL, "destroyed_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "workspaces_tenant_id_key" to table: "workspaces"
CREATE UNIQUE INDEX "workspaces_tenant_id_key" ON "workspaces" ("tenant_id");
-- create "tenant_state_counts" table
CREATE TABLE "tenant_state_counts" ("id" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY, "state" character varying NOT NULL, "slot" bigint NOT NULL, "count" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- create index "tenantstatecount_state_slot" to table: "tenant_state_counts"
CREATE UNIQUE INDEX "tenantstatecount_state_slot" ON "tenant_state_counts" ("state", "slot");
-- create "tenants" table
CREATE TABLE "tenants" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "slug" character varying NULL, "slug_hash" character varying NOT NULL, "email" character varying NULL, "state" character varying NOT NULL DEFAULT 'PENDING', "state_before_deletion" character varying NULL, "state_changed_at" timestamptz NOT NULL, "history_seq" bigint NOT NULL DEFAULT 0, "history_head" character varying NOT NULL DEFAULT '', "billing_customer_id" character varying NULL, "billing_subscription_id" character varying NULL, "purge_after" timestamptz NULL, "purged_at" timestamptz NULL, "plan_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "tenants_plans_plan" FOREIGN KEY ("plan_id") REFERENCES "plans" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "tenant_created_at" to table: "tenants"
CREATE INDEX "tenant_created_at" ON "tenants" ("created_at");
-- create index "tenant_plan_id" to table: "tenants"
CREATE INDEX "tenant_plan_id" ON "tenants" ("plan_id");
-- create index "tenant_state" to table: "tenants"
CREATE INDEX "tenant_state" ON "tenants" ("state");
-- create index "tenants_slug_key" to table: "tenants"
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants" ("slug");
-- create "api_keys" table
CREATE TABLE "api_keys" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL, "secret_hash" character varying NOT NULL, "created_by" character varying NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "tenant_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_tenants_api_keys" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "api_keys_secret_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys" ("secret_hash");
-- create index "apikey_tenant_id" to table: "api_keys"
CREATE INDEX "apikey_tenant_id" ON "api_keys" ("tenant_id");
-- create "operations" table
CREATE TABLE "operations" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'QUEUED', "steps" jsonb NOT NULL, "progress_done" bigint NOT NULL DEFAULT 0, "progress_total" bigint NOT NULL DEFAULT 0, "attempt" bigint NOT NULL DEFAULT 0, "error_code" character varying NULL, "error_message" character varying NULL, "params" jsonb NULL, "result" jsonb NULL, "requested_by" character varying NOT NULL, "idempotency_key" character varying NULL, "job_id" bigint NULL, "started_at" timestamptz NULL, "finished_at" timestamptz NULL, "tenant_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "operations_tenants_operations" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "operation_kind_status" to table: "operations"
CREATE INDEX "operation_kind_status" ON "operations" ("kind", "status");
-- create index "operation_tenant_id_created_at" to table: "operations"
CREATE INDEX "operation_tenant_id_created_at" ON "operations" ("tenant_id", "created_at");
-- create "state_transitions" table
CREATE TABLE "state_transitions" ("id" uuid NOT NULL, "seq" bigint NOT NULL, "event" character varying NOT NULL, "from_state" character varying NULL, "to_state" character varying NOT NULL, "triggered_by" character varying NOT NULL, "actor" character varying NOT NULL, "reason" character varying NOT NULL DEFAULT '', "metadata" jsonb NULL, "occurred_at" timestamptz NOT NULL, "prev_hash" character varying NOT NULL, "hash" character varying NOT NULL, "tenant_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "state_transitions_tenants_transitions" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- create index "statetransition_occurred_at" to table: "state_transitions"
CREATE INDEX "statetransition_occurred_at" ON "state_transitions" ("occurred_at");
-- create index "statetransition_tenant_id_seq" to table: "state_transitions"
CREATE UNIQUE INDEX "statetransition_tenant_id_seq" ON "state_transitions" ("tenant_id", "seq");

-- +goose Down
-- reverse: create index "statetransition_tenant_id_seq" to table: "state_transitions"
DROP INDEX "statetransition_tenant_id_seq";
-- reverse: create index "statetransition_occurred_at" to table: "state_transitions"
DROP INDEX "statetransition_occurred_at";
-- reverse: create "state_transitions" table
DROP TABLE "state_transitions";
-- reverse: create index "operation_tenant_id_created_at" to table: "operations"
DROP INDEX "operation_tenant_id_created_at";
-- reverse: create index "operation_kind_status" to table: "operations"
DROP INDEX "operation_kind_status";
-- reverse: create "operations" table
DROP TABLE "operations";
-- reverse: create index "apikey_tenant_id" to table: "api_keys"
DROP INDEX "apikey_tenant_id";
-- reverse: create index "api_keys_secret_hash_key" to table: "api_keys"
DROP INDEX "api_keys_secret_hash_key";
-- reverse: create "api_keys" table
DROP TABLE "api_keys";
-- reverse: create index "tenants_slug_key" to table: "tenants"
DROP INDEX "tenants_slug_key";
-- reverse: create index "tenant_state" to table: "tenants"
DROP INDEX "tenant_state";
-- reverse: create index "tenant_plan_id" to table: "tenants"
DROP INDEX "tenant_plan_id";
-- reverse: create index "tenant_created_at" to table: "tenants"
DROP INDEX "tenant_created_at";
-- reverse: create "tenants" table
DROP TABLE "tenants";
-- reverse: create index "tenantstatecount_state_slot" to table: "tenant_state_counts"
DROP INDEX "tenantstatecount_state_slot";
-- reverse: create "tenant_state_counts" table
DROP TABLE "tenant_state_counts";
-- reverse: create index "workspaces_tenant_id_key" to table: "workspaces"
DROP INDEX "workspaces_tenant_id_key";
-- reverse: create "workspaces" table
DROP TABLE "workspaces";
-- reverse: create index "plans_key_key" to table: "plans"
DROP INDEX "plans_key_key";
-- reverse: create "plans" table
DROP TABLE "plans";
-- reverse: create index "outboxmessage_tenant_id" to table: "outbox_messages"
DROP INDEX "outboxmessage_tenant_id";
-- reverse: create index "outboxmessage_status_created_at" to table: "outbox_messages"
DROP INDEX "outboxmessage_status_created_at";
-- reverse: create index "outbox_messages_dedupe_key_key" to table: "outbox_messages"
DROP INDEX "outbox_messages_dedupe_key_key";
-- reverse: create "outbox_messages" table
DROP TABLE "outbox_messages";
-- reverse: create index "milestone_tenant_id_name" to table: "milestones"
DROP INDEX "milestone_tenant_id_name";
-- reverse: create index "milestone_name_occurred_at" to table: "milestones"
DROP INDEX "milestone_name_occurred_at";
-- reverse: create "milestones" table
DROP TABLE "milestones";
-- reverse: create index "key_sets_tenant_id_key" to table: "key_sets"
DROP INDEX "key_sets_tenant_id_key";
-- reverse: create "key_sets" table
DROP TABLE "key_sets";
-- reverse: create index "idempotencykey_expires_at" to table: "idempotency_keys"
DROP INDEX "idempotencykey_expires_at";
-- reverse: create index "idempotency_keys_key_hash_key" to table: "idempotency_keys"
DROP INDEX "idempotency_keys_key_hash_key";
-- reverse: create "idempotency_keys" table
DROP TABLE "idempotency_keys";
-- reverse: create index "charges_idempotency_key_key" to table: "charges"
DROP INDEX "charges_idempotency_key_key";
-- reverse: create "charges" table
DROP TABLE "charges";
-- reverse: create index "admin_tokens_secret_hash_key" to table: "admin_tokens"
DROP INDEX "admin_tokens_secret_hash_key";
-- reverse: create "admin_tokens" table
DROP TABLE "admin_tokens";
-- reverse: create "webhook_events" table
DROP TABLE "webhook_events";
