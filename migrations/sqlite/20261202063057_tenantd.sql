-- +goose Up
-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_state_transitions" table
CREATE TABLE `new_state_transitions` (`id` uuid NOT NULL, `seq` integer NOT NULL, `event` text NOT NULL, `from_state` text NULL, `to_state` text NOT NULL, `triggered_by` text NOT NULL, `actor` text NOT NULL, `reason` text NOT NULL DEFAULT (''), `metadata` json NULL, `private` json NULL, `chain_version` integer NOT NULL DEFAULT (1), `text_salt` text NOT NULL DEFAULT (''), `text_hash` text NOT NULL DEFAULT (''), `erased_at` datetime NULL, `occurred_at` datetime NOT NULL, `prev_hash` text NOT NULL, `hash` text NOT NULL, `tenant_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `state_transitions_tenants_transitions` FOREIGN KEY (`tenant_id`) REFERENCES `tenants` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "state_transitions" to new temporary table "new_state_transitions"
INSERT INTO `new_state_transitions` (`id`, `seq`, `event`, `from_state`, `to_state`, `triggered_by`, `actor`, `reason`, `metadata`, `occurred_at`, `prev_hash`, `hash`, `tenant_id`) SELECT `id`, `seq`, `event`, `from_state`, `to_state`, `triggered_by`, `actor`, `reason`, `metadata`, `occurred_at`, `prev_hash`, `hash`, `tenant_id` FROM `state_transitions`;
-- drop "state_transitions" table after copying rows
DROP TABLE `state_transitions`;
-- rename temporary table "new_state_transitions" to "state_transitions"
ALTER TABLE `new_state_transitions` RENAME TO `state_transitions`;
-- create index "statetransition_tenant_id_seq" to table: "state_transitions"
CREATE UNIQUE INDEX `statetransition_tenant_id_seq` ON `state_transitions` (`tenant_id`, `seq`);
-- create index "statetransition_occurred_at" to table: "state_transitions"
CREATE INDEX `statetransition_occurred_at` ON `state_transitions` (`occurred_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- +goose Down
-- reverse: create index "statetransition_occurred_at" to table: "state_transitions"
DROP INDEX `statetransition_occurred_at`;
-- reverse: create index "statetransition_tenant_id_seq" to table: "state_transitions"
DROP INDEX `statetransition_tenant_id_seq`;
-- reverse: create "new_state_transitions" table
DROP TABLE `new_state_transitions`;
