-- +goose Up
-- modify "tenants" table
ALTER TABLE "tenants" ADD COLUMN "scheduled_cancel_at" timestamptz NULL, ADD COLUMN "scheduled_cancel_feedback" character varying NULL, ADD COLUMN "scheduled_cancel_requested_at" timestamptz NULL, ADD COLUMN "scheduled_cancel_requested_by" character varying NULL, ADD COLUMN "paused_until" timestamptz NULL;
-- create index "tenant_paused_until" to table: "tenants"
CREATE INDEX "tenant_paused_until" ON "tenants" ("paused_until");
-- create index "tenant_scheduled_cancel_at" to table: "tenants"
CREATE INDEX "tenant_scheduled_cancel_at" ON "tenants" ("scheduled_cancel_at");

-- +goose Down
-- reverse: create index "tenant_scheduled_cancel_at" to table: "tenants"
DROP INDEX "tenant_scheduled_cancel_at";
-- reverse: create index "tenant_paused_until" to table: "tenants"
DROP INDEX "tenant_paused_until";
-- reverse: modify "tenants" table
ALTER TABLE "tenants" DROP COLUMN "paused_until", DROP COLUMN "scheduled_cancel_requested_by", DROP COLUMN "scheduled_cancel_requested_at", DROP COLUMN "scheduled_cancel_feedback", DROP COLUMN "scheduled_cancel_at";
