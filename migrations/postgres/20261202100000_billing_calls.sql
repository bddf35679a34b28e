-- +goose Up
-- create "billing_calls" table
CREATE TABLE "billing_calls" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "provider" character varying NOT NULL, "idempotency_key" character varying NOT NULL, "call" character varying NOT NULL, "customer_id" character varying NOT NULL DEFAULT '', "subscription_id" character varying NOT NULL DEFAULT '', "request_hash" character varying NOT NULL, "result" jsonb NOT NULL, "comment" character varying NULL, "redacted_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "billing_calls_idempotency_key_key" to table: "billing_calls"
CREATE UNIQUE INDEX "billing_calls_idempotency_key_key" ON "billing_calls" ("idempotency_key");
-- create index "billingcall_customer_id" to table: "billing_calls"
CREATE INDEX "billingcall_customer_id" ON "billing_calls" ("customer_id");
-- create index "billingcall_subscription_id_created_at" to table: "billing_calls"
CREATE INDEX "billingcall_subscription_id_created_at" ON "billing_calls" ("subscription_id", "created_at");

-- +goose Down
-- reverse: create index "billingcall_subscription_id_created_at" to table: "billing_calls"
DROP INDEX "billingcall_subscription_id_created_at";
-- reverse: create index "billingcall_customer_id" to table: "billing_calls"
DROP INDEX "billingcall_customer_id";
-- reverse: create index "billing_calls_idempotency_key_key" to table: "billing_calls"
DROP INDEX "billing_calls_idempotency_key_key";
-- reverse: create "billing_calls" table
DROP TABLE "billing_calls";
