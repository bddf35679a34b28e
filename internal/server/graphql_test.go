package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

const admin = servertest.AdminToken

var sysCtx = tenantd.SystemContext(context.Background())

// fixture makes tenants directly through lifecycle, as signup will.
type fixture struct {
	srv *servertest.Server
	m   *lifecycle.Machine
}

type tenantFixture struct {
	ID  uuid.UUID
	Key string // the tenant's API key
	Op  uuid.UUID
	Tr  uuid.UUID // a transition id
}

func newFixture(t *testing.T, k storetest.Kind, env ...string) *fixture {
	srv := servertest.Start(t, k, env...)
	return &fixture{srv: srv, m: lifecycle.New(lifecycle.Config{DB: srv.DB()})}
}

func (f *fixture) tenant(t *testing.T, name string, events ...tenantd.Event) tenantFixture {
	t.Helper()
	slug := strings.ToLower(name) + "-" + uuid.NewString()[:6]
	sum := sha256.Sum256([]byte(slug))
	var tf tenantFixture
	err := f.srv.DB().InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
		res, err := f.m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: name, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			Email: slug + "@example.com", PlanID: plans.ID(plans.Starter), Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
		if err != nil {
			return err
		}
		tf.ID, tf.Tr = res.Tenant.ID, res.Transition.ID
		tf.Key, _, err = auth.IssueAPIKey(ctx, tx.Ent, tf.ID, "owner", "test")
		if err != nil {
			return err
		}
		op, err := tx.Ent.Operation.Create().SetTenantID(tf.ID).SetKind(tenantd.OpProvision).
			SetSteps([]tenantd.OperationStep{{Name: "create_workspace", Status: tenantd.StepPending}}).
			SetProgressTotal(1).SetRequestedBy("test").Save(tenantd.SystemContext(ctx))
		if err == nil {
			tf.Op = op.ID
		}
		return err
	})
	require.NoError(t, err)
	for _, ev := range events {
		by := tenantd.TriggerSystem
		if ev == tenantd.EventSuspend || ev == tenantd.EventCancel {
			by = tenantd.TriggerAdmin
		}
		_, err := f.m.Fire(sysCtx, lifecycle.Request{TenantID: tf.ID, Event: ev, Actor: lifecycle.Actor{By: by, Name: "test"}})
		require.NoError(t, err)
	}
	return tf
}

var toActive = []tenantd.Event{tenantd.EventProvision, tenantd.EventActivate}

func (f *fixture) historyRows(t *testing.T) int {
	t.Helper()
	n, err := f.srv.DB().Ent.StateTransition.Query().Count(sysCtx)
	require.NoError(t, err)
	return n
}

func (f *fixture) partnerToken(t *testing.T) string {
	t.Helper()
	tok, _, err := auth.New(f.srv.DB(), nil).CreateAdminToken(context.Background(), "PARTNER", "partner")
	require.NoError(t, err)
	return tok
}

const reactivateMutation = `mutation($id: ID!, $reason: String) {
  reactivateTenant(input: {tenantId: $id, reason: $reason}) { tenant { id state } operation { id kind } apiKey } }`

// lastTransitionWhen waits for the tenant's newest transition to be ev and
// returns it (an operation fires it).
func lastTransitionWhen(t *testing.T, srv *servertest.Server, id uuid.UUID, ev tenantd.Event) *ent.StateTransition {
	t.Helper()
	sys := tenantd.SystemContext(context.Background())
	var tr *ent.StateTransition
	require.Eventually(t, func() bool {
		var err error
		tr, err = srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id)).
			Order(ent.Desc(statetransition.FieldSeq)).First(sys)
		return err == nil && tr.Event == ev
	}, 30*time.Second, 5*time.Millisecond, "no %s transition", ev)
	return tr
}

const transitionMutation = `mutation($id: ID!, $reason: String) {
  %s(input: {tenantId: $id, reason: $reason}) {
    tenant { id state }
    transition { seq event fromState toState triggeredBy actor reason }
  }
}`

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, k)
			acme := f.tenant(t, "Acme", toActive...)
			other := f.tenant(t, "Other", toActive...)
			partner := f.partnerToken(t)

			t.Run("anonymous", func(t *testing.T) {
				require.Equal(t, "UNAUTHENTICATED", f.srv.Do(t, "", `{ viewer { role } }`, nil).Code())
				require.Equal(t, "UNAUTHENTICATED", f.srv.Do(t, "", `{ tenants { totalCount } }`, nil).Code())
				require.Equal(t, "UNAUTHENTICATED", f.srv.Do(t, "", fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": acme.ID}).Code())
				var d struct{ Plans []struct{ Key string } }
				f.srv.MustDo(t, "", `{ plans { key } }`, nil, &d)
				require.Len(t, d.Plans, 4, "plans are public")
			})

			t.Run("bad token", func(t *testing.T) {
				r := f.srv.Do(t, "tda_not_a_real_token_at_all_000000", `{ viewer { role } }`, nil)
				require.Equal(t, 401, r.Status)
				require.Equal(t, "UNAUTHENTICATED", r.Code())
				r = f.srv.Do(t, "tdk_not_a_real_key_at_all_00000000", `{ plans { key } }`, nil)
				require.Equal(t, "UNAUTHENTICATED", r.Code(), "a wrong token is refused even on public fields")
			})

			t.Run("partner reads and writes nothing", func(t *testing.T) {
				var d struct {
					Viewer  struct{ Role string }
					Tenants struct{ TotalCount int }
					Counts  struct{ Total int } `json:"tenantStateCounts"`
				}
				f.srv.MustDo(t, partner, `{ viewer { role } tenants { totalCount } tenantStateCounts { total } }`, nil, &d)
				require.Equal(t, "PARTNER", d.Viewer.Role)
				require.Equal(t, 2, d.Tenants.TotalCount)
				require.Equal(t, 2, d.Counts.Total)
				before := f.historyRows(t)
				for _, m := range []string{"suspendTenant", "resumeTenant", "cancelSubscription", "reactivateTenant"} {
					q := fmt.Sprintf(transitionMutation, m)
					if m == "reactivateTenant" {
						q = reactivateMutation
					}
					r := f.srv.Do(t, partner, q, map[string]any{"id": acme.ID})
					require.Equal(t, "FORBIDDEN", r.Code(), m)
				}
				require.Equal(t, before, f.historyRows(t), "nothing written")
			})

			t.Run("tenant key sees its own tenant only", func(t *testing.T) {
				var d struct {
					Viewer struct {
						Role   string
						Tenant struct{ ID uuid.UUID }
					}
					Tenants struct {
						TotalCount int
						Edges      []struct{ Node struct{ ID uuid.UUID } }
					}
				}
				f.srv.MustDo(t, acme.Key, `{ viewer { role tenant { id } } tenants { totalCount edges { node { id } } } }`, nil, &d)
				require.Equal(t, "TENANT", d.Viewer.Role)
				require.Equal(t, acme.ID, d.Viewer.Tenant.ID)
				require.Equal(t, 1, d.Tenants.TotalCount)
				require.Equal(t, acme.ID, d.Tenants.Edges[0].Node.ID)
				require.Equal(t, "FORBIDDEN", f.srv.Do(t, acme.Key, `{ tenantStateCounts { total } }`, nil).Code())
				require.Equal(t, "FORBIDDEN", f.srv.Do(t, acme.Key, fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": acme.ID}).Code())
			})

			t.Run("admin acts and the history says who", func(t *testing.T) {
				type payload struct {
					Tenant     struct{ State string }
					Transition struct {
						Seq                                           int
						Event, FromState, ToState, TriggeredBy, Actor string
						Reason                                        string
					}
				}
				steps := []struct {
					mutation, event, to string
				}{
					{"suspendTenant", "suspend", "SUSPENDED"},
					{"resumeTenant", "resume", "ACTIVE"},
					{"cancelSubscription", "cancel", "CANCELED"},
				}
				for i, s := range steps {
					var d map[string]payload
					f.srv.MustDo(t, admin, fmt.Sprintf(transitionMutation, s.mutation), map[string]any{"id": other.ID, "reason": "step " + s.event}, &d)
					p := d[s.mutation]
					require.Equal(t, s.to, p.Tenant.State)
					require.Equal(t, s.event, p.Transition.Event)
					require.Equal(t, s.to, p.Transition.ToState)
					require.Equal(t, "ADMIN", p.Transition.TriggeredBy)
					require.Equal(t, "admin:"+auth.Display(admin), p.Transition.Actor)
					require.Equal(t, "step "+s.event, p.Transition.Reason)
					require.Equal(t, 4+i, p.Transition.Seq)
				}
				// A reactivation charges first, then its operation fires
				// reactivate as the admin who asked.
				var ra struct {
					ReactivateTenant struct {
						Tenant    struct{ State string }
						Operation struct {
							ID   uuid.UUID
							Kind string
						}
						APIKey string
					}
				}
				f.srv.MustDo(t, admin, reactivateMutation, map[string]any{"id": other.ID, "reason": "step reactivate"}, &ra)
				require.Equal(t, "CANCELED", ra.ReactivateTenant.Tenant.State, "ACTIVE once billing is back")
				require.Equal(t, "REACTIVATE", ra.ReactivateTenant.Operation.Kind)
				require.NotEmpty(t, ra.ReactivateTenant.APIKey, "a new key, shown once")
				tr := lastTransitionWhen(t, f.srv, other.ID, tenantd.EventReactivate)
				require.Equal(t, tenantd.StateActive, tr.ToState)
				require.Equal(t, tenantd.TriggerAdmin, tr.TriggeredBy)
				require.Equal(t, "admin:"+auth.Display(admin), tr.Actor)
				require.Equal(t, "step reactivate", tr.Reason)
				require.Equal(t, 7, tr.Seq)
			})

			t.Run("tenant cancels and reactivates itself", func(t *testing.T) {
				var d struct {
					C struct {
						Transition struct{ TriggeredBy, Actor string }
					} `json:"cancelSubscription"`
				}
				f.srv.MustDo(t, acme.Key, `mutation($id: ID!) { cancelSubscription(input: {tenantId: $id, atPeriodEnd: false}) {
					transition { triggeredBy actor } } }`, map[string]any{"id": acme.ID}, &d)
				require.Equal(t, "USER", d.C.Transition.TriggeredBy)
				require.Equal(t, "key:"+auth.Display(acme.Key), d.C.Transition.Actor)
				f.srv.MustDo(t, acme.Key, reactivateMutation, map[string]any{"id": acme.ID}, nil)
				tr := lastTransitionWhen(t, f.srv, acme.ID, tenantd.EventReactivate)
				require.Equal(t, tenantd.TriggerUser, tr.TriggeredBy)
			})
		})
	}
}

// TestOtherTenantIsNotFound gives a tenant key another tenant's ids on every
// field that takes one: each answers NOT_FOUND, never FORBIDDEN, and nothing
// is written.
func TestOtherTenantIsNotFound(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, k)
			mine := f.tenant(t, "Mine", toActive...)
			theirs := f.tenant(t, "Theirs", toActive...)
			before := f.historyRows(t)
			vars := func(id uuid.UUID) map[string]any { return map[string]any{"id": id} }
			cases := []struct {
				name  string
				query string
				id    uuid.UUID
			}{
				{"tenant", `query($id: ID!) { tenant(id: $id) { id } }`, theirs.ID},
				{"node(tenant)", `query($id: ID!) { node(id: $id) { id } }`, theirs.ID},
				{"node(operation)", `query($id: ID!) { node(id: $id) { id } }`, theirs.Op},
				{"node(transition)", `query($id: ID!) { node(id: $id) { id } }`, theirs.Tr},
				{"operation", `query($id: ID!) { operation(id: $id) { id } }`, theirs.Op},
				{"suspendTenant", fmt.Sprintf(transitionMutation, "suspendTenant"), theirs.ID},
				{"resumeTenant", fmt.Sprintf(transitionMutation, "resumeTenant"), theirs.ID},
				{"cancelSubscription", fmt.Sprintf(transitionMutation, "cancelSubscription"), theirs.ID},
				{"reactivateTenant", reactivateMutation, theirs.ID},
				{"undoCancellation", `mutation($id: ID!) { undoCancellation(input: {tenantId: $id}) { tenant { id } } }`, theirs.ID},
				{"pauseSubscription", fmt.Sprintf(`mutation($id: ID!) { pauseSubscription(input: {tenantId: $id, resumesAt: %q}) { tenant { id } } }`,
					time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)), theirs.ID},
			}
			for _, c := range cases {
				r := f.srv.Do(t, mine.Key, c.query, vars(c.id))
				require.Equal(t, "NOT_FOUND", r.Code(), "%s: %+v", c.name, r.Errors)
			}
			// nodes and filters: the other tenant's rows are simply absent.
			var d struct {
				Nodes   []any
				Tenants struct{ TotalCount int }
				Tenant  struct {
					Transitions struct{ TotalCount int }
				}
			}
			r := f.srv.Do(t, mine.Key, `query($ids: [ID!]!, $other: ID!, $me: ID!) {
				nodes(ids: $ids) { id }
				tenants(where: {id: $other}) { totalCount }
				tenant(id: $me) { transitions(where: {tenantID: $other}) { totalCount } }
			}`, map[string]any{"ids": []uuid.UUID{theirs.ID}, "other": theirs.ID, "me": mine.ID})
			require.Equal(t, "NOT_FOUND", r.Code())
			require.NoError(t, jsonUnmarshal(r.Data, &d))
			require.Equal(t, []any{nil}, d.Nodes)
			require.Zero(t, d.Tenants.TotalCount)
			require.Zero(t, d.Tenant.Transitions.TotalCount)
			require.Equal(t, before, f.historyRows(t), "nothing written")

			// The same ids work for the owner.
			f.srv.MustDo(t, theirs.Key, `query($id: ID!) { tenant(id: $id) { id } }`, vars(theirs.ID), nil)
			f.srv.MustDo(t, theirs.Key, `query($id: ID!) { node(id: $id) { id } }`, vars(theirs.Op), nil)
		})
	}
}

func TestErrorsAndLimits(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, k)
			acme := f.tenant(t, "Acme", toActive...)
			before := f.historyRows(t)
			code := func(r *servertest.Response) string { return r.Code() }

			// Malformed and unknown ids.
			r := f.srv.Do(t, admin, `{ tenant(id: "not-a-uuid") { id } }`, nil)
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Contains(t, r.Errors[0].Message, "not a valid id")
			r = f.srv.Do(t, admin, `query($id: ID!) { tenant(id: $id) { id } }`, map[string]any{"id": uuid.NewString()})
			require.Equal(t, "NOT_FOUND", code(r))
			r = f.srv.Do(t, admin, fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": "nope"})
			require.Equal(t, "INVALID_INPUT", code(r))

			// An illegal transition names the state and the allowed events.
			r = f.srv.Do(t, admin, fmt.Sprintf(transitionMutation, "resumeTenant"), map[string]any{"id": acme.ID})
			require.Equal(t, "INVALID_TRANSITION", code(r))
			require.Equal(t, "ACTIVE", r.Errors[0].Extensions["state"])
			require.Contains(t, r.Errors[0].Extensions["allowedEvents"], "suspend")
			require.Contains(t, r.Errors[0].Message, "ACTIVE")

			// Reason too long.
			r = f.srv.Do(t, admin, fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": acme.ID, "reason": strings.Repeat("x", 501)})
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Equal(t, "reason", r.Errors[0].Extensions["field"])

			// Pages, depth, complexity, size.
			r = f.srv.Do(t, admin, `{ tenants(first: 101) { totalCount } }`, nil)
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Equal(t, "first", r.Errors[0].Extensions["field"])
			r = f.srv.Do(t, admin, `query($n: Int) { tenants(last: $n) { totalCount } }`, map[string]any{"n": -1})
			require.Equal(t, "INVALID_INPUT", code(r))
			deep := `{ tenants { edges { node { plan { id } transitions { edges { node { tenant { operations { edges { node { tenant { id } } } } } } } } } } } }`
			r = f.srv.Do(t, admin, deep, nil)
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Contains(t, r.Errors[0].Message, "deeper")
			r = f.srv.Do(t, admin, `{ tenants(first: 100) { edges { node { transitions(first: 100) { edges { node { id } } } } } } }`, nil)
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Contains(t, r.Errors[0].Message, "complexity")
			r = f.srv.Do(t, admin, "{ "+strings.Repeat("plans { key } ", 3000)+"}", nil)
			require.Equal(t, "INVALID_INPUT", code(r), "parser token limit")
			huge := []byte(`{"query": "{ plans { key } }", "variables": {"pad": "` + strings.Repeat("x", 12<<20) + `"}}`)
			r = f.srv.Raw(t, admin, "application/json", huge)
			require.Equal(t, 413, r.Status)
			require.Equal(t, "INVALID_INPUT", code(r))

			// Transport rules.
			r = f.srv.Raw(t, admin, "text/plain", []byte(`{"query": "{ plans { key } }"}`))
			require.Equal(t, "INVALID_INPUT", code(r))
			r = f.srv.Raw(t, admin, "application/json", []byte(`{"query": `))
			require.Equal(t, "INVALID_INPUT", code(r))
			r = f.srv.Raw(t, admin, "application/json", []byte("{\"query\": \"{ plans { key } }\", \"variables\": {\"x\": \"\xff\xfe\"}}"))
			require.Equal(t, "INVALID_INPUT", code(r))
			require.Contains(t, r.Errors[0].Message, "UTF-8")
			r = f.srv.Get(t, admin, "query="+url.QueryEscape(fmt.Sprintf(`mutation { suspendTenant(input: {tenantId: "%s"}) { tenant { id } } }`, acme.ID)))
			require.Equal(t, "INVALID_INPUT", code(r))
			var g struct{ Plans []any }
			r = f.srv.Get(t, admin, "query="+url.QueryEscape(`{ plans { key } }`))
			r.Decode(t, &g)
			require.Len(t, g.Plans, 4)
			r = f.srv.Do(t, admin, `{ nope }`, nil)
			require.Equal(t, "INVALID_INPUT", code(r))

			require.Equal(t, before, f.historyRows(t), "no error wrote a row")
			st, err := f.srv.DB().Ent.Tenant.Get(sysCtx, acme.ID)
			require.NoError(t, err)
			require.Equal(t, tenantd.StateActive, st.State)
		})
	}
}

func TestProductionHardening(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite, "TENANTD_ENV=production")
	r := f.srv.Do(t, admin, `{ __schema { types { name } } }`, nil)
	require.Equal(t, "INVALID_INPUT", r.Code(), "introspection is off in production")
	r = f.srv.Do(t, admin, `{ tenantz { id } }`, nil)
	require.Equal(t, "INVALID_INPUT", r.Code())
	require.NotContains(t, r.Errors[0].Message, "Did you mean", "no field suggestions in production")

	dev := newFixture(t, storetest.SQLite)
	var d struct {
		Schema struct{ Types []any } `json:"__schema"`
	}
	dev.srv.MustDo(t, admin, `{ __schema { types { name } } }`, nil, &d)
	require.NotEmpty(t, d.Schema.Types)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, k)
			const n = 25
			for i := range n {
				evs := toActive
				if i%5 == 0 {
					evs = append(append([]tenantd.Event{}, toActive...), tenantd.EventSuspend)
				}
				f.tenant(t, fmt.Sprintf("T%02d", i), evs...)
			}
			type page struct {
				Tenants struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage, HasPreviousPage bool
						EndCursor, StartCursor       *string
					}
					Edges []struct{ Node struct{ Name string } }
				}
			}
			seen := map[string]bool{}
			var after *string
			pages := 0
			for {
				var p page
				f.srv.MustDo(t, admin, `query($after: Cursor) { tenants(first: 10, after: $after, orderBy: {field: NAME, direction: ASC}) {
					totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }`, map[string]any{"after": after}, &p)
				require.Equal(t, n, p.Tenants.TotalCount)
				for _, e := range p.Tenants.Edges {
					require.False(t, seen[e.Node.Name], "no tenant twice")
					seen[e.Node.Name] = true
				}
				pages++
				if !p.Tenants.PageInfo.HasNextPage {
					break
				}
				after = p.Tenants.PageInfo.EndCursor
			}
			require.Equal(t, 3, pages)
			require.Len(t, seen, n)

			var last page
			f.srv.MustDo(t, admin, `{ tenants(last: 3, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { name } } } }`, nil, &last)
			require.Equal(t, []string{"T22", "T23", "T24"}, names(last.Tenants.Edges))

			var filtered page
			f.srv.MustDo(t, admin, `{ tenants(where: {state: SUSPENDED}) { totalCount edges { node { name } } } }`, nil, &filtered)
			require.Equal(t, 5, filtered.Tenants.TotalCount)

			var def page
			f.srv.MustDo(t, admin, `{ tenants { totalCount edges { node { name } } } }`, nil, &def)
			require.Len(t, def.Tenants.Edges, 20, "a connection without first/last returns a default page, never everything")

			// A tenant's timeline comes in seq order.
			var tl struct {
				Tenants struct {
					Edges []struct {
						Node struct {
							Transitions struct {
								Edges []struct{ Node struct{ Seq int } }
							}
						}
					}
				}
			}
			f.srv.MustDo(t, admin, `{ tenants(first: 1, where: {state: SUSPENDED}) { edges { node { transitions { edges { node { seq } } } } } } }`, nil, &tl)
			var seqs []int
			for _, e := range tl.Tenants.Edges[0].Node.Transitions.Edges {
				seqs = append(seqs, e.Node.Seq)
			}
			require.Equal(t, []int{1, 2, 3, 4}, seqs)

			n2, err := f.srv.DB().Ent.StateTransition.Query().Where(statetransition.Seq(1)).Count(sysCtx)
			require.NoError(t, err)
			require.Equal(t, n, n2)
		})
	}
}

func names(edges []struct{ Node struct{ Name string } }) []string {
	var out []string
	for _, e := range edges {
		out = append(out, e.Node.Name)
	}
	return out
}

// TestRefusesRoleThatBypassesRowSecurity starts tenantd with DATABASE_URL
// as the owner (a superuser here): start-up refuses, naming the reason.
func TestRefusesRoleThatBypassesRowSecurity(t *testing.T) {
	t.Parallel()
	if !slices.Contains(storetest.Kinds(t), storetest.Postgres) {
		return
	}
	url := storetest.NewPostgresDatabase(t)
	cfg, err := config.Load([]string{"DATABASE_URL=" + storetest.OwnerURL(url), "TENANTD_ADDR=127.0.0.1:0", "TENANTD_DATA_DIR=" + t.TempDir()}, nil)
	require.NoError(t, err)
	_, err = server.Open(context.Background(), cfg, servertest.Logger())
	require.Error(t, err)
	require.Contains(t, err.Error(), "is a superuser")
	require.Contains(t, err.Error(), "TENANTD_OWNER_DATABASE_URL")
}
