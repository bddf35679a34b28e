-- +goose Up
-- create index "tenant_purge_after" to table: "tenants"
CREATE INDEX `tenant_purge_after` ON `tenants` (`purge_after`);
-- create "exports" table
CREATE TABLE `exports` (`id` uuid NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `tenant_id` uuid NOT NULL, `operation_id` uuid NOT NULL, `format` text NOT NULL, `status` text NOT NULL DEFAULT ('RUNNING'), `location` text NULL, `size_bytes` integer NOT NULL DEFAULT (0), `sha256` text NULL, `files` json NULL, `requested_by` text NOT NULL, `ready_at` datetime NULL, `expires_at` datetime NULL, `deleted_at` datetime NULL, PRIMARY KEY (`id`));
-- create index "exports_operation_id_key" to table: "exports"
CREATE UNIQUE INDEX `exports_operation_id_key` ON `exports` (`operation_id`);
-- create index "export_tenant_id_created_at" to table: "exports"
CREATE INDEX `export_tenant_id_created_at` ON `exports` (`tenant_id`, `created_at`);
-- create index "export_expires_at" to table: "exports"
CREATE INDEX `export_expires_at` ON `exports` (`expires_at`);
-- create "export_downloads" table
CREATE TABLE `export_downloads` (`id` uuid NOT NULL, `tenant_id` uuid NOT NULL, `export_id` uuid NOT NULL, `actor` text NOT NULL, `bytes` integer NOT NULL DEFAULT (0), `downloaded_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "exportdownload_export_id_downloaded_at" to table: "export_downloads"
CREATE INDEX `exportdownload_export_id_downloaded_at` ON `export_downloads` (`export_id`, `downloaded_at`);
-- create index "exportdownload_tenant_id" to table: "export_downloads"
CREATE INDEX `exportdownload_tenant_id` ON `export_downloads` (`tenant_id`);

-- +goose Down
-- reverse: create index "exportdownload_tenant_id" to table: "export_downloads"
DROP INDEX `exportdownload_tenant_id`;
-- reverse: create index "exportdownload_export_id_downloaded_at" to table: "export_downloads"
DROP INDEX `exportdownload_export_id_downloaded_at`;
-- reverse: create "export_downloads" table
DROP TABLE `export_downloads`;
-- reverse: create index "export_expires_at" to table: "exports"
DROP INDEX `export_expires_at`;
-- reverse: create index "export_tenant_id_created_at" to table: "exports"
DROP INDEX `export_tenant_id_created_at`;
-- reverse: create index "exports_operation_id_key" to table: "exports"
DROP INDEX `exports_operation_id_key`;
-- reverse: create "exports" table
DROP TABLE `exports`;
-- reverse: create index "tenant_purge_after" to table: "tenants"
DROP INDEX `tenant_purge_after`;
