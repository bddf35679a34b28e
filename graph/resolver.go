// Package graph is tenantd's GraphQL layer: gqlgen resolvers over ent. A
// resolver authorizes the caller, translates the input, calls one capability
// function and returns; the error presenter (errors.go) turns errors into the
// contract's extensions.code.
package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/planchange"
	"github.com/tenantd/tenantd/internal/provisioning"
	"github.com/tenantd/tenantd/internal/readiness"
	"github.com/tenantd/tenantd/internal/retention"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/subscription"
	"github.com/tenantd/tenantd/internal/watch"
	"github.com/tenantd/tenantd/internal/winback"
	"github.com/tenantd/tenantd/internal/workspace"
)

// Resolver is the root resolver and holds the dependencies of all resolvers.
type Resolver struct {
	DB           *store.DB
	Lifecycle    *lifecycle.Machine
	Provisioning *provisioning.Service
	Idempotency  *idempotency.Store
	Keys         *auth.Keys
	Watch        *watch.Watcher
	Workspaces   *workspace.Service
	Readiness    *readiness.Checker
	// Subscriptions cancels and reactivates, telling the billing provider.
	Subscriptions *subscription.Service
	// PlanChanges previews, schedules and runs plan changes.
	PlanChanges *planchange.Service
	// Retention deletes, restores and purges tenants.
	Retention *retention.Purger
	// WinBack keeps win-back campaigns.
	WinBack *winback.Service
	// Exports exports and imports tenants' data.
	Exports *export.Service
	// ActivationWindow defines an activated tenant for the funnel.
	ActivationWindow time.Duration
}

func (r *Resolver) client() *ent.Client { return r.DB.Ent }

// NewSchema returns the executable schema over r, with the complexity rules
// that make a connection cost its page size times its contents.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	cfg := Config{Resolvers: r}
	setComplexity(&cfg.Complexity)
	return NewExecutableSchema(cfg)
}
