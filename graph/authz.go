package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// viewer returns the caller. Returns UNAUTHENTICATED when there is none.
func viewer(ctx context.Context) (tenantd.Viewer, error) {
	v, ok := tenantd.ViewerFrom(ctx)
	if !ok {
		return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED,
			"this needs a bearer token: send Authorization: Bearer <admin token or API key>")
	}
	return v, nil
}

// requireAdmin lets ADMIN callers through. A tenant key asking about
// another tenant learns only that there is no such tenant.
func requireAdmin(ctx context.Context, tenantID uuid.UUID) error {
	v, err := viewer(ctx)
	if err != nil {
		return err
	}
	if v.Role == tenantd.RoleTenant && v.TenantID != tenantID {
		return notFound("tenant", tenantID)
	}
	return requireAdminRole(ctx)
}

// requireAdminRole lets ADMIN callers through, for actions that concern no
// one tenant (a tenant key gets FORBIDDEN: there is no tenant to hide).
func requireAdminRole(ctx context.Context) error {
	v, err := viewer(ctx)
	if err != nil {
		return err
	}
	switch v.Role {
	case tenantd.RoleAdmin, tenantd.RoleSystem:
		return nil
	case tenantd.RolePartner:
		return tenantd.Errorf(tenantd.EFORBIDDEN, "partner tokens are read-only; this needs an admin token")
	}
	return tenantd.Errorf(tenantd.EFORBIDDEN, "this needs an admin token")
}

// requireActor lets ADMIN callers and TENANT callers through; a tenant key
// acts on its own tenant only, which the privacy rules enforce as NOT_FOUND.
func requireActor(ctx context.Context) error {
	v, err := viewer(ctx)
	if err != nil {
		return err
	}
	if v.Role == tenantd.RolePartner {
		return tenantd.Errorf(tenantd.EFORBIDDEN, "partner tokens are read-only")
	}
	return nil
}

// requireOperator lets ADMIN and PARTNER callers through.
func requireOperator(ctx context.Context) error {
	v, err := viewer(ctx)
	if err != nil {
		return err
	}
	if !v.CanRead() {
		return tenantd.Errorf(tenantd.EFORBIDDEN, "this needs an admin or partner token")
	}
	return nil
}
