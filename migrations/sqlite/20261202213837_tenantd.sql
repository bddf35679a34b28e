-- +goose Up
-- add column "cancel_feedback" to table: "tenants"
ALTER TABLE `tenants` ADD COLUMN `cancel_feedback` text NULL;
-- add column "marketing_unsubscribed_at" to table: "tenants"
ALTER TABLE `tenants` ADD COLUMN `marketing_unsubscribed_at` datetime NULL;
-- drop index "tenant_state" from table: "tenants"
DROP INDEX `tenant_state`;
-- create index "tenant_state_state_changed_at" to table: "tenants"
CREATE INDEX `tenant_state_state_changed_at` ON `tenants` (`state`, `state_changed_at`);
-- add column "progress" to table: "win_back_campaigns"
ALTER TABLE `win_back_campaigns` ADD COLUMN `progress` json NULL;
-- create "win_back_messages" table
CREATE TABLE `win_back_messages` (`id` uuid NOT NULL, `campaign_id` uuid NOT NULL, `step` integer NOT NULL, `tenant_id` uuid NOT NULL, `sent_at` datetime NOT NULL, `link_expires_at` datetime NOT NULL, `opened_at` datetime NULL, `converted_at` datetime NULL, `operation_id` uuid NULL, `recovered_cents` integer NULL, PRIMARY KEY (`id`));
-- create index "winbackmessage_campaign_id_step_tenant_id" to table: "win_back_messages"
CREATE UNIQUE INDEX `winbackmessage_campaign_id_step_tenant_id` ON `win_back_messages` (`campaign_id`, `step`, `tenant_id`);
-- create index "winbackmessage_tenant_id" to table: "win_back_messages"
CREATE INDEX `winbackmessage_tenant_id` ON `win_back_messages` (`tenant_id`);

-- +goose Down
-- reverse: create index "winbackmessage_tenant_id" to table: "win_back_messages"
DROP INDEX `winbackmessage_tenant_id`;
-- reverse: create index "winbackmessage_campaign_id_step_tenant_id" to table: "win_back_messages"
DROP INDEX `winbackmessage_campaign_id_step_tenant_id`;
-- reverse: create "win_back_messages" table
DROP TABLE `win_back_messages`;
-- reverse: add column "progress" to table: "win_back_campaigns"
ALTER TABLE `win_back_campaigns` DROP COLUMN `progress`;
-- reverse: create index "tenant_state_state_changed_at" to table: "tenants"
DROP INDEX `tenant_state_state_changed_at`;
-- reverse: drop index "tenant_state" from table: "tenants"
CREATE INDEX `tenant_state` ON `tenants` (`state`);
-- reverse: add column "marketing_unsubscribed_at" to table: "tenants"
ALTER TABLE `tenants` DROP COLUMN `marketing_unsubscribed_at`;
-- reverse: add column "cancel_feedback" to table: "tenants"
ALTER TABLE `tenants` DROP COLUMN `cancel_feedback`;
