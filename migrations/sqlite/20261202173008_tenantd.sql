-- +goose Up
-- create "win_back_campaigns" table
CREATE TABLE `win_back_campaigns` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `segment` json NOT NULL, `offer_percent_off` integer NULL, `offer_duration_months` integer NULL, `steps` json NOT NULL, `created_by` text NOT NULL, `paused_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "winbackcampaign_status" to table: "win_back_campaigns"
CREATE INDEX `winbackcampaign_status` ON `win_back_campaigns` (`status`);

-- +goose Down
-- reverse: create index "winbackcampaign_status" to table: "win_back_campaigns"
DROP INDEX `winbackcampaign_status`;
-- reverse: create "win_back_campaigns" table
DROP TABLE `win_back_campaigns`;
