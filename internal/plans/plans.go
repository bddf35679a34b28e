// Package plans holds the price plan catalog and seeds it into the database.
package plans

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/plan"
)

// Plan keys.
const (
	Free       = "free"
	Starter    = "starter"
	Pro        = "pro"
	Enterprise = "enterprise"
)

// namespace derives the plans' fixed ids, so that every database, replica
// and test gives a plan the same id.
var namespace = uuid.MustParse("6f1c1f3e-8b4b-4b43-9d55-5c1b0c6e7a10")

// ID returns the fixed id of the plan with the given key.
func ID(key string) uuid.UUID { return uuid.NewSHA1(namespace, []byte("plan:"+key)) }

// Spec is one catalog entry. Nil limits are unlimited.
type Spec struct {
	Key                string
	Name               string
	Isolation          tenantd.Isolation
	PriceCents         int
	MaxDocuments       *int
	MaxStorageBytes    *int64
	MaxQueriesPerMonth *int
}

func ptr[T any](v T) *T { return &v }

const mib = 1 << 20

// Catalog is the plan catalog in display order: free and starter share the
// pooled tables, pro and enterprise get a silo each.
var Catalog = []Spec{
	{Key: Free, Name: "Free", Isolation: tenantd.IsolationPool, PriceCents: 0,
		MaxDocuments: ptr(1_000), MaxStorageBytes: ptr[int64](100 * mib), MaxQueriesPerMonth: ptr(5_000)},
	{Key: Starter, Name: "Starter", Isolation: tenantd.IsolationPool, PriceCents: 2_900,
		MaxDocuments: ptr(250_000), MaxStorageBytes: ptr[int64](5 * 1024 * mib), MaxQueriesPerMonth: ptr(100_000)},
	{Key: Pro, Name: "Pro", Isolation: tenantd.IsolationSilo, PriceCents: 9_900,
		MaxDocuments: ptr(1_000_000), MaxStorageBytes: ptr[int64](50 * 1024 * mib), MaxQueriesPerMonth: ptr(1_000_000)},
	{Key: Enterprise, Name: "Enterprise", Isolation: tenantd.IsolationSilo, PriceCents: 49_900},
}

// Seed inserts the catalog, or brings existing rows up to date. It is
// idempotent: running it on every start is the intended use.
func Seed(ctx context.Context, client *ent.Client) error {
	ctx = tenantd.SystemContext(ctx)
	for i, s := range Catalog {
		err := client.Plan.Create().
			SetID(ID(s.Key)).
			SetKey(s.Key).
			SetName(s.Name).
			SetIsolation(s.Isolation).
			SetPriceCents(s.PriceCents).
			SetPosition(i).
			SetNillableMaxDocuments(s.MaxDocuments).
			SetNillableMaxStorageBytes(s.MaxStorageBytes).
			SetNillableMaxQueriesPerMonth(s.MaxQueriesPerMonth).
			OnConflictColumns(plan.FieldKey).
			UpdateName().UpdateIsolation().UpdatePriceCents().UpdatePosition().
			UpdateMaxDocuments().UpdateMaxStorageBytes().UpdateMaxQueriesPerMonth().
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("seed plan %s: %w", s.Key, err)
		}
	}
	return nil
}

// ByKey returns the plan with the given key.
//
// Returns INVALID_INPUT (field "plan") if there is no such plan.
func ByKey(ctx context.Context, client *ent.Client, key string) (*ent.Plan, error) {
	p, err := client.Plan.Query().Where(plan.Key(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, tenantd.Invalid("plan", "unknown plan %q; choose one of free, starter, pro, enterprise", key)
	}
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", key, err)
	}
	return p, nil
}
