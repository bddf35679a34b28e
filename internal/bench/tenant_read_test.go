package bench_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// tenant(id) with its plan and 20 transitions: GraphQL over HTTP against the
// same reads in bare SQL on the same database.
//
// Two runs of `make bench` on the 2-core development machine:
//
//	                               graphql_http         bare_sql          ratio
//	BenchmarkTenantRead/sqlite     0.91 | 0.97 ms    0.069 | 0.071 ms    13.3 | 13.6
//	BenchmarkTenantRead/postgres   1.33 | 1.30 ms    0.229 | 0.225 ms     5.8 | 5.8
//
// The GraphQL side pays for the HTTP round trip and JSON both ways, the
// bearer token lookup, gqlgen's execution (field by field, edges marshalled
// concurrently) and ent's separate queries for the tenant, its plan and its
// transitions, each through the privacy rules; bare SQL is one join and one
// ordered range read. A millisecond per fully loaded tenant page is still
// far from being a bottleneck.

const readHistory = 20

const tenantReadQuery = `query($id: ID!) { tenant(id: $id) { id name state plan { key }
  transitions(first: 20) { edges { node { seq event fromState toState triggeredBy actor occurredAt hash } } } } }`

// readTransition is one history row as both readers return it.
type readTransition struct {
	Seq         int       `json:"seq"`
	Event       string    `json:"event"`
	FromState   *string   `json:"fromState"`
	ToState     string    `json:"toState"`
	TriggeredBy string    `json:"triggeredBy"`
	Actor       string    `json:"actor"`
	OccurredAt  time.Time `json:"occurredAt"`
	Hash        string    `json:"hash"`
}

// readTenant is the tenant as both readers return it.
type readTenant struct {
	ID          uuid.UUID
	Name        string
	State       string
	PlanKey     string
	Transitions []readTransition
}

func BenchmarkTenantRead(b *testing.B) {
	for _, kind := range storetest.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			srv := servertest.Start(b, kind)
			db := srv.DB()
			id := historyTenant(b, srv)

			body, err := json.Marshal(map[string]any{"query": tenantReadQuery, "variables": map[string]any{"id": id}})
			require.NoError(b, err)
			viaGraphQL := func() *servertest.Response {
				return srv.Raw(b, servertest.AdminToken, "application/json", body)
			}

			pg := db.IsPostgres()
			tenantQ := rebind(pg, `SELECT t.id, t.name, t.state, p.key FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = ?`)
			historyQ := rebind(pg, `SELECT seq, event, from_state, to_state, triggered_by, actor, occurred_at, hash
				FROM state_transitions WHERE tenant_id = ? ORDER BY seq LIMIT 20`)
			viaSQL := func(ctx context.Context) (*readTenant, error) {
				var t readTenant
				err := db.SQL.QueryRowContext(ctx, tenantQ, id).Scan(&t.ID, &t.Name, &t.State, &t.PlanKey)
				if err != nil {
					return nil, err
				}
				rows, err := db.SQL.QueryContext(ctx, historyQ, id)
				if err != nil {
					return nil, err
				}
				defer rows.Close()
				t.Transitions = make([]readTransition, 0, readHistory)
				for rows.Next() {
					var r readTransition
					if err := rows.Scan(&r.Seq, &r.Event, &r.FromState, &r.ToState, &r.TriggeredBy, &r.Actor, &r.OccurredAt, &r.Hash); err != nil {
						return nil, err
					}
					t.Transitions = append(t.Transitions, r)
				}
				return &t, rows.Err()
			}

			// Both readers return the same tenant and history, checked once.
			fromSQL, err := viaSQL(context.Background())
			require.NoError(b, err)
			var d struct {
				Tenant struct {
					ID, Name, State string
					Plan            struct{ Key string }
					Transitions     struct {
						Edges []struct{ Node readTransition }
					}
				}
			}
			viaGraphQL().Decode(b, &d)
			require.Equal(b, id.String(), d.Tenant.ID)
			require.Equal(b, fromSQL.Name, d.Tenant.Name)
			require.Equal(b, string(tenantd.StateSuspended), d.Tenant.State)
			require.Equal(b, fromSQL.State, d.Tenant.State)
			require.Equal(b, plans.Free, d.Tenant.Plan.Key)
			require.Equal(b, fromSQL.PlanKey, d.Tenant.Plan.Key)
			require.Len(b, fromSQL.Transitions, readHistory)
			require.Len(b, d.Tenant.Transitions.Edges, readHistory)
			for i, e := range d.Tenant.Transitions.Edges {
				s := fromSQL.Transitions[i]
				require.Equal(b, i+1, e.Node.Seq)
				require.Equal(b, i+1, s.Seq)
				require.Equal(b, s.Hash, e.Node.Hash)
				require.Equal(b, s.Event, e.Node.Event)
				require.Equal(b, s.Actor, e.Node.Actor)
				require.True(b, s.OccurredAt.Equal(e.Node.OccurredAt), "seq %d occurredAt", i+1)
			}

			b.Run("graphql_http", func(b *testing.B) {
				b.ResetTimer()
				for b.Loop() {
					if r := viaGraphQL(); len(r.Errors) > 0 || r.Status != 200 {
						b.Fatalf("status %d, errors %+v", r.Status, r.Errors)
					}
				}
				reportMs(b)
			})
			b.Run("bare_sql", func(b *testing.B) {
				ctx := context.Background()
				b.ResetTimer()
				for b.Loop() {
					t, err := viaSQL(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if len(t.Transitions) != readHistory {
						b.Fatalf("read %d transitions, want %d", len(t.Transitions), readHistory)
					}
				}
				reportMs(b)
			})
		})
	}
}

// historyTenant creates a tenant with exactly readHistory history rows:
// signup, provision, activate, then suspend and resume in turn. It ends
// SUSPENDED.
func historyTenant(b *testing.B, srv *servertest.Server) uuid.UUID {
	b.Helper()
	db := srv.DB()
	m := lifecycle.New(lifecycle.Config{DB: db})
	id := signup(b, db, m, "read-"+uuid.NewString()[:8])
	fire(b, m, id, tenantd.EventProvision, tenantd.TriggerSystem)
	fire(b, m, id, tenantd.EventActivate, tenantd.TriggerSystem)
	for i := 3; i < readHistory; i++ {
		fire(b, m, id, nextEvent(i%2 == 0), tenantd.TriggerAdmin)
	}
	require.Equal(b, readHistory, historyRows(b, db, []uuid.UUID{id}))
	return id
}
