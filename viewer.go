package tenantd

import (
	"context"
	"io"
	"sync"

	"github.com/google/uuid"
)

// Role is what a caller may do.
type Role string

// The roles. ADMIN and PARTNER come from admin tokens, TENANT from a
// tenant's API key; SYSTEM is tenantd's own work (workers, sweeps, start-up).
const (
	RoleAdmin   Role = "ADMIN"
	RolePartner Role = "PARTNER"
	RoleTenant  Role = "TENANT"
	RoleSystem  Role = "SYSTEM"
)

// Values lists the roles.
func (Role) Values() []string { return []string{"ADMIN", "PARTNER", "TENANT", "SYSTEM"} }

// MarshalGQL implements graphql.Marshaler.
func (r Role) MarshalGQL(w io.Writer) { marshalEnum(w, string(r)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (r *Role) UnmarshalGQL(v any) (err error) { *r, err = unmarshalEnum[Role](v, "Role"); return }

// Viewer is the authenticated caller of a request.
type Viewer struct {
	Role Role
	// TenantID is the tenant a TENANT viewer is scoped to.
	TenantID uuid.UUID
	// TokenID is the id of the admin token or API key used.
	TokenID uuid.UUID
	// Actor is how the audit trail names the caller, e.g. "admin:tda_1a2b3c4d";
	// it never holds personal data.
	Actor string
}

// CanRead reports whether the viewer may read data of any tenant.
func (v Viewer) CanRead() bool {
	return v.Role == RoleAdmin || v.Role == RolePartner || v.Role == RoleSystem
}

// IsAdmin reports whether the viewer may act on any tenant.
func (v Viewer) IsAdmin() bool { return v.Role == RoleAdmin || v.Role == RoleSystem }

// SeesTenant reports whether the viewer may read the given tenant.
func (v Viewer) SeesTenant(id uuid.UUID) bool {
	return v.CanRead() || (v.Role == RoleTenant && v.TenantID == id)
}

type viewerKey struct{}

// NewContext returns a context that carries v.
func NewContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the viewer of ctx and whether there is one.
func ViewerFrom(ctx context.Context) (Viewer, bool) {
	if v, ok := ctx.Value(viewerKey{}).(Viewer); ok {
		return v, true
	}
	if slot, ok := ctx.Value(slotKey{}).(*viewerSlot); ok {
		slot.mu.Lock()
		defer slot.mu.Unlock()
		if slot.v != nil {
			return *slot.v, true
		}
	}
	return Viewer{}, false
}

type slotKey struct{}

type viewerSlot struct {
	mu sync.Mutex
	v  *Viewer
}

// WithViewerSlot returns a context for an anonymous caller in which Assume
// can later establish a viewer — the way a public signUp goes on as the
// tenant it just created, so that the fields of its answer resolve. The
// GraphQL layer gives the slot to the signUp field alone (graph.SignUpScope),
// never to a whole request.
func WithViewerSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey{}, &viewerSlot{})
}

// Assume makes v the viewer of an anonymous request (see WithViewerSlot) and
// reports whether it did; a request that has a viewer keeps it.
func Assume(ctx context.Context, v Viewer) bool {
	if _, ok := ctx.Value(viewerKey{}).(Viewer); ok {
		return false
	}
	slot, ok := ctx.Value(slotKey{}).(*viewerSlot)
	if !ok {
		return false
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.v != nil {
		return false
	}
	slot.v = &v
	return true
}

// SystemContext returns ctx acting as tenantd itself. Capability functions use
// it for their own writes after they have authorized the caller.
func SystemContext(ctx context.Context) context.Context {
	return NewContext(ctx, Viewer{Role: RoleSystem, Actor: "system"})
}
