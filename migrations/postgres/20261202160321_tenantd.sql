-- +goose Up
-- create index "tenant_purge_after" to table: "tenants"
CREATE INDEX "tenant_purge_after" ON "tenants" ("purge_after");
-- create "exports" table
CREATE TABLE "exports" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "tenant_id" uuid NOT NULL, "operation_id" uuid NOT NULL, "format" character varying NOT NULL, "status" character varying NOT NULL DEFAULT 'RUNNING', "location" character varying NULL, "size_bytes" bigint NOT NULL DEFAULT 0, "sha256" character varying NULL, "files" jsonb NULL, "requested_by" character varying NOT NULL, "ready_at" timestamptz NULL, "expires_at" timestamptz NULL, "deleted_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "export_expires_at" to table: "exports"
CREATE INDEX "export_expires_at" ON "exports" ("expires_at");
-- create index "export_tenant_id_created_at" to table: "exports"
CREATE INDEX "export_tenant_id_created_at" ON "exports" ("tenant_id", "created_at");
-- create index "exports_operation_id_key" to table: "exports"
CREATE UNIQUE INDEX "exports_operation_id_key" ON "exports" ("operation_id");
-- create "export_downloads" table
CREATE TABLE "export_downloads" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "export_id" uuid NOT NULL, "actor" character varying NOT NULL, "bytes" bigint NOT NULL DEFAULT 0, "downloaded_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "exportdownload_export_id_downloaded_at" to table: "export_downloads"
CREATE INDEX "exportdownload_export_id_downloaded_at" ON "export_downloads" ("export_id", "downloaded_at");
-- create index "exportdownload_tenant_id" to table: "export_downloads"
CREATE INDEX "exportdownload_tenant_id" ON "export_downloads" ("tenant_id");

-- +goose Down
-- reverse: create index "exportdownload_tenant_id" to table: "export_downloads"
DROP INDEX "exportdownload_tenant_id";
-- reverse: create index "exportdownload_export_id_downloaded_at" to table: "export_downloads"
DROP INDEX "exportdownload_export_id_downloaded_at";
-- reverse: create "export_downloads" table
DROP TABLE "export_downloads";
-- reverse: create index "exports_operation_id_key" to table: "exports"
DROP INDEX "exports_operation_id_key";
-- reverse: create index "export_tenant_id_created_at" to table: "exports"
DROP INDEX "export_tenant_id_created_at";
-- reverse: create index "export_expires_at" to table: "exports"
DROP INDEX "export_expires_at";
-- reverse: create "exports" table
DROP TABLE "exports";
-- reverse: create index "tenant_purge_after" to table: "tenants"
DROP INDEX "tenant_purge_after";
