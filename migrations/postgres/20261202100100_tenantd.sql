-- +goose Up
-- modify "tenants" table
ALTER TABLE "tenants" ADD COLUMN "scheduled_plan_key" character varying NULL, ADD COLUMN "scheduled_plan_at" timestamptz NULL, ADD COLUMN "scheduled_plan_requested_at" timestamptz NULL, ADD COLUMN "scheduled_plan_requested_by" character varying NULL, ADD COLUMN "scheduled_plan_trigger" character varying NULL;
-- create index "tenant_scheduled_plan_at" to table: "tenants"
CREATE INDEX "tenant_scheduled_plan_at" ON "tenants" ("scheduled_plan_at");

-- +goose Down
-- reverse: create index "tenant_scheduled_plan_at" to table: "tenants"
DROP INDEX "tenant_scheduled_plan_at";
-- reverse: modify "tenants" table
ALTER TABLE "tenants" DROP COLUMN "scheduled_plan_trigger", DROP COLUMN "scheduled_plan_requested_by", DROP COLUMN "scheduled_plan_requested_at", DROP COLUMN "scheduled_plan_at", DROP COLUMN "scheduled_plan_key";
