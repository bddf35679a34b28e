-- +goose Up
-- create "billing_calls" table
CREATE TABLE `billing_calls` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `provider` text NOT NULL, `idempotency_key` text NOT NULL, `call` text NOT NULL, `customer_id` text NOT NULL DEFAULT (''), `subscription_id` text NOT NULL DEFAULT (''), `request_hash` text NOT NULL, `result` json NOT NULL, `comment` text NULL, `redacted_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "billing_calls_idempotency_key_key" to table: "billing_calls"
CREATE UNIQUE INDEX `billing_calls_idempotency_key_key` ON `billing_calls` (`idempotency_key`);
-- create index "billingcall_subscription_id_created_at" to table: "billing_calls"
CREATE INDEX `billingcall_subscription_id_created_at` ON `billing_calls` (`subscription_id`, `created_at`);
-- create index "billingcall_customer_id" to table: "billing_calls"
CREATE INDEX `billingcall_customer_id` ON `billing_calls` (`customer_id`);

-- +goose Down
-- reverse: create index "billingcall_customer_id" to table: "billing_calls"
DROP INDEX `billingcall_customer_id`;
-- reverse: create index "billingcall_subscription_id_created_at" to table: "billing_calls"
DROP INDEX `billingcall_subscription_id_created_at`;
-- reverse: create index "billing_calls_idempotency_key_key" to table: "billing_calls"
DROP INDEX `billing_calls_idempotency_key_key`;
-- reverse: create "billing_calls" table
DROP TABLE `billing_calls`;
