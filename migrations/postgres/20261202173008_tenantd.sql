-- +goose Up
-- create "win_back_campaigns" table
CREATE TABLE "win_back_campaigns" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'ACTIVE', "segment" jsonb NOT NULL, "offer_percent_off" bigint NULL, "offer_duration_months" bigint NULL, "steps" jsonb NOT NULL, "created_by" character varying NOT NULL, "paused_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "winbackcampaign_status" to table: "win_back_campaigns"
CREATE INDEX "winbackcampaign_status" ON "win_back_campaigns" ("status");

-- +goose Down
-- reverse: create index "winbackcampaign_status" to table: "win_back_campaigns"
DROP INDEX "winbackcampaign_status";
-- reverse: create "win_back_campaigns" table
DROP TABLE "win_back_campaigns";
