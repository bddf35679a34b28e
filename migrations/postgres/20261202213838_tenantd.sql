-- +goose Up
-- drop index "tenant_state" from table: "tenants"
DROP INDEX "tenant_state";
-- modify "tenants" table
ALTER TABLE "tenants" ADD COLUMN "cancel_feedback" character varying NULL, ADD COLUMN "marketing_unsubscribed_at" timestamptz NULL;
-- create index "tenant_state_state_changed_at" to table: "tenants"
CREATE INDEX "tenant_state_state_changed_at" ON "tenants" ("state", "state_changed_at");
-- modify "win_back_campaigns" table
ALTER TABLE "win_back_campaigns" ADD COLUMN "progress" jsonb NULL;
-- create "win_back_messages" table
CREATE TABLE "win_back_messages" ("id" uuid NOT NULL, "campaign_id" uuid NOT NULL, "step" bigint NOT NULL, "tenant_id" uuid NOT NULL, "sent_at" timestamptz NOT NULL, "link_expires_at" timestamptz NOT NULL, "opened_at" timestamptz NULL, "converted_at" timestamptz NULL, "operation_id" uuid NULL, "recovered_cents" bigint NULL, PRIMARY KEY ("id"));
-- create index "winbackmessage_campaign_id_step_tenant_id" to table: "win_back_messages"
CREATE UNIQUE INDEX "winbackmessage_campaign_id_step_tenant_id" ON "win_back_messages" ("campaign_id", "step", "tenant_id");
-- create index "winbackmessage_tenant_id" to table: "win_back_messages"
CREATE INDEX "winbackmessage_tenant_id" ON "win_back_messages" ("tenant_id");

-- +goose Down
-- reverse: create index "winbackmessage_tenant_id" to table: "win_back_messages"
DROP INDEX "winbackmessage_tenant_id";
-- reverse: create index "winbackmessage_campaign_id_step_tenant_id" to table: "win_back_messages"
DROP INDEX "winbackmessage_campaign_id_step_tenant_id";
-- reverse: create "win_back_messages" table
DROP TABLE "win_back_messages";
-- reverse: modify "win_back_campaigns" table
ALTER TABLE "win_back_campaigns" DROP COLUMN "progress";
-- reverse: create index "tenant_state_state_changed_at" to table: "tenants"
DROP INDEX "tenant_state_state_changed_at";
-- reverse: modify "tenants" table
ALTER TABLE "tenants" DROP COLUMN "marketing_unsubscribed_at", DROP COLUMN "cancel_feedback";
-- reverse: drop index "tenant_state" from table: "tenants"
CREATE INDEX "tenant_state" ON "tenants" ("state");
