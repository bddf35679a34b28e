package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/readiness"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

const runChecks = `mutation { runReadinessChecks { status ranAt checks { name title status summary evidence } } }`

type checksAnswer struct {
	RunReadinessChecks struct {
		Status string
		Checks []struct {
			Name, Title, Status, Summary string
			Evidence                     map[string]any
		}
	}
}

func (c checksAnswer) status() map[string]string {
	out := map[string]string{}
	for _, ch := range c.RunReadinessChecks.Checks {
		out[ch.Name] = ch.Status
	}
	return out
}

// activate takes a tenant through the whole funnel over the API.
func activate(t *testing.T, srv *servertest.Server, slug string) uuid.UUID {
	t.Helper()
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput(slug, "starter")}, &a)
	waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
	srv.MustDo(t, a.SignUp.APIKey, `mutation { uploadDocument(input: {title: "Hello", content: "hello world"}) { document { id } } }`, nil, nil)
	srv.MustDo(t, a.SignUp.APIKey, `{ searchDocuments(query: "hello") { score } }`, nil, nil)
	return a.SignUp.Tenant.ID
}

// TestReadinessAllPass runs the checks on a healthy tenantd: all PASS, and
// the synthetic tenant is purged and kept out of the funnel.
func TestReadinessAllPass(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			activate(t, srv, "ready-"+string(k))
			var c checksAnswer
			srv.MustDo(t, admin, runChecks, nil, &c)
			require.Equal(t, "PASS", c.RunReadinessChecks.Status, "%+v", c.RunReadinessChecks.Checks)
			require.Len(t, c.RunReadinessChecks.Checks, 4)
			for _, ch := range c.RunReadinessChecks.Checks {
				require.Equal(t, "PASS", ch.Status, "%s: %s", ch.Name, ch.Summary)
				require.NotEmpty(t, ch.Title)
				require.NotEmpty(t, ch.Evidence)
			}
			require.Contains(t, c.RunReadinessChecks.Checks[2].Summary, "activation rate 100% (1 of 1 signups of the last 30 days) meets the 70% target",
				"the rate says what it counts, so it reads right next to a funnel of another window")
			synthetic := c.RunReadinessChecks.Checks[0].Evidence["tenantId"].(string)
			sys := tenantd.SystemContext(context.Background())
			tn, err := srv.DB().Ent.Tenant.Get(sys, uuid.MustParse(synthetic))
			require.NoError(t, err)
			require.Equal(t, tenantd.StatePurged, tn.State, "the synthetic tenant is purged")
			require.Nil(t, tn.Email)
			require.Nil(t, tn.Slug)
			require.True(t, tn.Synthetic)

			var f struct {
				ActivationFunnel struct{ Steps []struct{ Count int } }
				Readiness        struct {
					Status string
					Checks []struct{ Name string }
				}
			}
			srv.MustDo(t, admin, `{ activationFunnel { steps { count } } readiness { status checks { name } } }`, nil, &f)
			require.Equal(t, 1, f.ActivationFunnel.Steps[0].Count, "the synthetic signup is not in the funnel")
			require.Equal(t, "PASS", f.Readiness.Status, "readiness returns the last run")
			require.Len(t, f.Readiness.Checks, 4)

			r := srv.Do(t, partnerOf(t, srv), runChecks, nil)
			require.Equal(t, "FORBIDDEN", r.Code(), "partners read the checks but do not run them")
		})
	}
}

func partnerOf(t *testing.T, srv *servertest.Server) string {
	t.Helper()
	return (&fixture{srv: srv}).partnerToken(t)
}

// TestReadinessStalledProvisioning breaks provisioning (no replica works the
// jobs): the signup check and the provisioning-speed check FAIL.
func TestReadinessStalledProvisioning(t *testing.T) {
	t.Parallel()
	srv := servertest.StartWith(t, storetest.SQLite, nil, []server.Option{
		server.WithoutWorkers(),
		server.WithReadiness(func(c *readiness.Checker) { c.Limit = 500 * time.Millisecond }),
	})
	var c checksAnswer
	srv.MustDo(t, admin, runChecks, nil, &c)
	st := c.status()
	require.Equal(t, "FAIL", c.RunReadinessChecks.Status)
	require.Equal(t, "FAIL", st[readiness.CheckSignup])
	require.Equal(t, "FAIL", st[readiness.CheckSpeed])
	require.Contains(t, c.RunReadinessChecks.Checks[1].Summary, "stalled")
	require.Equal(t, "FAIL", st[readiness.CheckIdempotent])
}

// TestReadinessFunnelNotFlowing: tenants sign up but never run a query, so
// the first_query milestone does not flow: the funnel check FAILs.
func TestReadinessFunnelNotFlowing(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("never-queries", "free")}, &a)
	waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
	var c checksAnswer
	srv.MustDo(t, admin, runChecks, nil, &c)
	require.Equal(t, "FAIL", c.status()[readiness.CheckFunnel])
	require.Contains(t, c.RunReadinessChecks.Checks[2].Summary, "FIRST_QUERY")
	require.Equal(t, "PASS", c.status()[readiness.CheckSignup])
}

// TestReadinessCatchesNonIdempotentProvisioning replaces the re-run with one
// that queues a second email, as a broken step would: check 4 FAILs.
func TestReadinessCatchesNonIdempotentProvisioning(t *testing.T) {
	t.Parallel()
	var srv *servertest.Server
	srv = servertest.StartWith(t, storetest.SQLite, nil, []server.Option{server.WithReadiness(func(c *readiness.Checker) {
		real := c.Rerun
		c.Rerun = func(ctx context.Context, opID uuid.UUID) error {
			if err := real(ctx, opID); err != nil {
				return err
			}
			op, err := srv.DB().Ent.Operation.Get(tenantd.SystemContext(ctx), opID)
			if err != nil {
				return err
			}
			return srv.DB().InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
				_, _, err := mail.EnqueueTx(ctx, tx, srv.River(), mail.NewMessage{TenantID: &op.TenantID, Kind: "signup_confirmation",
					DedupeKey: "duplicate:" + uuid.NewString(), To: "dup@tenantd.invalid", Subject: "again", Text: "again"})
				return err
			})
		}
	})})
	activate(t, srv, "idem-check")
	var c checksAnswer
	srv.MustDo(t, admin, runChecks, nil, &c)
	require.Equal(t, "FAIL", c.status()[readiness.CheckIdempotent])
	require.Contains(t, c.RunReadinessChecks.Checks[3].Summary, "emails 1 → 2")
	n, err := srv.DB().Ent.Tenant.Query().Where(tenant.Synthetic(true), tenant.StateEQ(tenantd.StatePurged)).Count(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	require.Equal(t, 1, n, "the synthetic tenant is purged even when a check fails")
}

// TestReadinessNeverChargesThroughALiveProvider: with Stripe configured (here
// unreachable), the synthetic signup still passes: it pays through the
// built-in test provider.
func TestReadinessNeverChargesThroughALiveProvider(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite, "STRIPE_SECRET_KEY=sk_live_unreachable", "STRIPE_API_BASE=http://127.0.0.1:1")
	var c checksAnswer
	srv.MustDo(t, admin, runChecks, nil, &c)
	require.Equal(t, "PASS", c.status()[readiness.CheckSignup], "%+v", c.RunReadinessChecks.Checks[0])
	r := srv.Do(t, "", signUpMutation, map[string]any{"in": signUpInput("real-customer", "pro")})
	require.Equal(t, "INTERNAL", r.Code(), "a real signup does go to Stripe (unreachable here)")
}
