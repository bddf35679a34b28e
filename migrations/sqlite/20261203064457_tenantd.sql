-- +goose Up
-- create index "tenant_synthetic_state" to table: "tenants"
CREATE INDEX `tenant_synthetic_state` ON `tenants` (`state`) WHERE synthetic;

-- +goose Down
-- reverse: create index "tenant_synthetic_state" to table: "tenants"
DROP INDEX `tenant_synthetic_state`;
