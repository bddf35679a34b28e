package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const tenantViewQuery = `query($id: ID!) { tenant(id: $id) {
  allowedEvents
  transitions { edges { node { event triggeredBy actor } } }
  operations { edges { node { kind requestedBy result steps { name detail } error { message } } } }
  scheduledCancellation { requestedBy }
} }`

type tenantViewAnswer struct {
	Tenant struct {
		AllowedEvents []string
		Transitions   struct {
			Edges []struct {
				Node struct{ Event, TriggeredBy, Actor string }
			}
		}
		Operations struct {
			Edges []struct {
				Node struct {
					Kind, RequestedBy string
					Result            map[string]any
					Steps             []struct {
						Name   string
						Detail *string
					}
					Error *struct{ Message string }
				}
			}
		}
		ScheduledCancellation *struct{ RequestedBy *string }
	}
}

func (a tenantViewAnswer) actor(event string) string {
	for _, e := range a.Tenant.Transitions.Edges {
		if e.Node.Event == event {
			return e.Node.Actor
		}
	}
	return ""
}

// TestTenantSeesOnlyWhatIsAboutIt: through its own key a tenant sees
// operators by role (its timeline, its operations, its scheduled
// cancellation), no server path in a step detail or an error, and only the
// events it may fire; an admin token sees the audit names, the paths and
// the admin's events. A tenant key cannot filter its timeline by actor.
func TestTenantSeesOnlyWhatIsAboutIt(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("seen-"+string(k), "pro")}, &a)
			id, key := a.SignUp.Tenant.ID, a.SignUp.APIKey
			waitState(t, srv, id, tenantd.StateActive)
			vars := map[string]any{"id": id}
			srv.MustDo(t, admin, fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": id, "reason": "review"}, nil)
			srv.MustDo(t, admin, fmt.Sprintf(transitionMutation, "resumeTenant"), map[string]any{"id": id, "reason": "done"}, nil)
			// The admin schedules a cancellation at the period's end.
			srv.MustDo(t, admin, `mutation($id: ID!) { cancelSubscription(input: {tenantId: $id, atPeriodEnd: true}) { tenant { id } } }`, vars, nil)

			// A step detail and an error message written before details
			// were path-free.
			sys := tenantd.SystemContext(context.Background())
			op, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpProvision)).Only(sys)
			require.NoError(t, err)
			steps := op.Steps
			steps[0].Detail = "SILO workspace at /var/lib/tenantd/workspaces/" + id.String() + ".db"
			require.NoError(t, srv.DB().Ent.Operation.UpdateOne(op).SetSteps(steps).
				SetErrorCode("INTERNAL").SetErrorMessage("open data/workspaces/"+id.String()+".db: permission denied").Exec(sys))

			var own, adm tenantViewAnswer
			srv.MustDo(t, key, tenantViewQuery, vars, &own)
			srv.MustDo(t, admin, tenantViewQuery, vars, &adm)

			// Actors.
			require.True(t, strings.HasPrefix(adm.actor("suspend"), "admin:tda_"), adm.actor("suspend"))
			require.Equal(t, "admin", own.actor("suspend"))
			require.Equal(t, "admin", own.actor("resume"))
			require.Equal(t, "system", own.actor("activate"))
			for _, e := range own.Tenant.Transitions.Edges {
				require.NotContains(t, e.Node.Actor, "tda_", "%s", e.Node.Event)
			}
			require.NotNil(t, own.Tenant.ScheduledCancellation)
			require.Equal(t, "admin", *own.Tenant.ScheduledCancellation.RequestedBy)
			require.Contains(t, *adm.Tenant.ScheduledCancellation.RequestedBy, "admin:tda_")
			for _, e := range own.Tenant.Operations.Edges {
				require.NotContains(t, e.Node.RequestedBy, "tda_", "%s", e.Node.Kind)
			}

			// Paths.
			provision := func(a tenantViewAnswer) string {
				var b strings.Builder
				for _, e := range a.Tenant.Operations.Edges {
					if e.Node.Kind != string(tenantd.OpProvision) {
						continue
					}
					for _, s := range e.Node.Steps {
						if s.Detail != nil {
							b.WriteString(*s.Detail + "\n")
						}
					}
					require.NotNil(t, e.Node.Error)
					b.WriteString(e.Node.Error.Message + "\n")
					b.WriteString(fmt.Sprint(e.Node.Result))
				}
				return b.String()
			}
			require.Contains(t, provision(adm), "/var/lib/tenantd/workspaces/")
			require.Contains(t, provision(adm), "data/workspaces/")
			seen := provision(own)
			require.NotContains(t, seen, "/var/lib")
			require.NotContains(t, seen, "workspaces/")
			require.NotContains(t, seen, ".db")
			require.Contains(t, seen, "SILO workspace at (server path)")
			require.Contains(t, seen, "open (server path): permission denied")

			// Details written now hold no path, for anyone.
			var b signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("fresh-"+string(k), "pro")}, &b)
			waitState(t, srv, b.SignUp.Tenant.ID, tenantd.StateActive)
			var fresh tenantViewAnswer
			srv.MustDo(t, admin, tenantViewQuery, map[string]any{"id": b.SignUp.Tenant.ID}, &fresh)
			details := ""
			for _, e := range fresh.Tenant.Operations.Edges {
				for _, s := range e.Node.Steps {
					if s.Detail != nil {
						details += *s.Detail + "\n"
					}
				}
			}
			require.Contains(t, details, "SILO workspace ready")
			require.NotContains(t, details, "/")

			// Allowed events: an ACTIVE tenant with a scheduled cancellation.
			// suspend: the tenant pauses its subscription.
			require.ElementsMatch(t, []string{"suspend", "cancel", "request_deletion", "change_plan"}, own.Tenant.AllowedEvents)
			require.ElementsMatch(t, []string{"suspend", "cancel", "request_deletion", "change_plan"}, adm.Tenant.AllowedEvents)
			var p tenantViewAnswer
			srv.MustDo(t, partnerOf(t, srv), `query($id: ID!) { tenant(id: $id) { allowedEvents } }`, vars, &p)
			require.Empty(t, p.Tenant.AllowedEvents, "partner tokens are read-only")

			// Filtering by actor would spell out a token prefix.
			filter := `query($id: ID!, $w: StateTransitionWhereInput) { tenant(id: $id) { transitions(where: $w) { totalCount } } }`
			for _, w := range []map[string]any{
				{"actorHasPrefix": "admin:tda_"},
				{"or": []any{map[string]any{"event": "suspend"}, map[string]any{"not": map[string]any{"actorContains": "tda"}}}},
			} {
				r := srv.Do(t, key, filter, map[string]any{"id": id, "w": w})
				require.Equal(t, "INVALID_INPUT", r.Code(), "%v", w)
				require.Contains(t, r.Errors[0].Message, "cannot filter by actor")
			}
			var n struct {
				Tenant struct{ Transitions struct{ TotalCount int } }
			}
			srv.MustDo(t, admin, filter, map[string]any{"id": id, "w": map[string]any{"actorHasPrefix": "admin:tda_"}}, &n)
			require.Equal(t, 2, n.Tenant.Transitions.TotalCount, "suspend and resume")
			srv.MustDo(t, key, filter, map[string]any{"id": id, "w": map[string]any{"event": "suspend"}}, &n)
			require.Equal(t, 1, n.Tenant.Transitions.TotalCount)

			// The admin pauses the tenant: the transition's metadata names
			// who asked. An operation's params name an actor and a path.
			resumes := srv.Clock().Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
			srv.MustDo(t, admin, `mutation($id: ID!, $at: Time!) { pauseSubscription(input: {tenantId: $id, resumesAt: $at}) { tenant { state } } }`,
				map[string]any{"id": id, "at": resumes}, nil)
			require.NoError(t, srv.DB().Ent.Operation.UpdateOne(op).
				SetParams(map[string]any{"actor": "admin:tda_0123abcd", "file": "/var/lib/tenantd/exports/x.zip"}).Exec(sys))
			meta := `query($id: ID!) { tenant(id: $id) {
				transitions(where: {event: suspend}) { edges { node { metadata } } }
				operations(where: {kind: PROVISION}) { edges { node { params } } } } }`
			var mo, ma struct {
				Tenant struct {
					Transitions struct {
						Edges []struct {
							Node struct{ Metadata map[string]any }
						}
					}
					Operations struct {
						Edges []struct {
							Node struct{ Params map[string]any }
						}
					}
				}
			}
			srv.MustDo(t, key, meta, vars, &mo)
			srv.MustDo(t, admin, meta, vars, &ma)
			last := func(edges []struct {
				Node struct{ Metadata map[string]any }
			}) map[string]any {
				return edges[len(edges)-1].Node.Metadata
			}
			require.Equal(t, "admin", last(mo.Tenant.Transitions.Edges)["requestedBy"])
			require.Contains(t, last(ma.Tenant.Transitions.Edges)["requestedBy"], "admin:tda_")
			require.Equal(t, map[string]any{"actor": "admin", "file": "(server path)"}, mo.Tenant.Operations.Edges[0].Node.Params)
			require.Equal(t, "/var/lib/tenantd/exports/x.zip", ma.Tenant.Operations.Edges[0].Node.Params["file"])

			// SUSPENDED: resume is the admin's; an illegal event names only
			// what the tenant may fire.
			events := `query($id: ID!) { tenant(id: $id) { allowedEvents } }`
			srv.MustDo(t, key, events, vars, &own)
			srv.MustDo(t, admin, events, vars, &adm)
			require.ElementsMatch(t, []string{"cancel", "request_deletion"}, own.Tenant.AllowedEvents)
			require.ElementsMatch(t, []string{"resume", "cancel", "request_deletion"}, adm.Tenant.AllowedEvents)
			r := srv.Do(t, key, reactivateMutation, vars)
			require.Equal(t, "INVALID_TRANSITION", r.Code())
			require.ElementsMatch(t, []any{"cancel", "request_deletion"}, r.Errors[0].Extensions["allowedEvents"])
			require.NotContains(t, r.Errors[0].Message, "resume")
		})
	}
}
