-- +goose Up
-- modify "workspaces" table
ALTER TABLE "workspaces" ADD COLUMN "generation" bigint NOT NULL DEFAULT 1, ADD COLUMN "target_isolation" character varying NULL, ADD COLUMN "target_location" character varying NULL;

-- +goose Down
-- reverse: modify "workspaces" table
ALTER TABLE "workspaces" DROP COLUMN "target_location", DROP COLUMN "target_isolation", DROP COLUMN "generation";
