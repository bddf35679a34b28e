package server_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/charge"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/mail/mailpittest"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace"
)

const signUpMutation = `mutation($in: SignUpInput!) {
  signUp(input: $in) {
    apiKey
    tenant { id slug state plan { key isolation } }
    operation { id status steps { name status } }
  }
}`

type signUpAnswer struct {
	SignUp struct {
		APIKey string
		Tenant struct {
			ID    uuid.UUID
			Slug  string
			State string
			Plan  struct{ Key, Isolation string }
		}
		Operation struct {
			ID     uuid.UUID
			Status string
		}
	}
}

func signUpInput(slug, plan string) map[string]any {
	return map[string]any{
		"name": "Tenant " + slug, "slug": slug, "email": "owner@" + slug + ".example.com",
		"plan": plan, "paymentMethod": "pm_card_visa", "idempotencyKey": uuid.NewString(),
	}
}

const progressSubscription = `subscription($id: ID!) {
  operationProgress(id: $id) { id status progress { done total } steps { name status detail } }
}`

type progressMsg struct {
	OperationProgress struct {
		Status   string
		Progress struct{ Done, Total int }
		Steps    []struct{ Name, Status, Detail string }
	}
}

// follow subscribes to an operation and returns every message until the
// subscription completes.
func follow(t *testing.T, url, token string, opID uuid.UUID) []progressMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gqlws.Dial(ctx, url+"/graphql", gqlws.Options{Token: token})
	require.NoError(t, err)
	defer c.Close()
	sub, err := c.Subscribe(ctx, progressSubscription, map[string]any{"id": opID})
	require.NoError(t, err)
	var msgs []progressMsg
	for {
		data, err := sub.Next(ctx)
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "the subscription completes after the final state")
			return msgs
		}
		var m progressMsg
		require.NoError(t, json.Unmarshal(data, &m))
		msgs = append(msgs, m)
	}
}

// TestSignUpEndToEnd signs up through the public API on each store and plan
// isolation, follows provisioning live, and checks the email, the workspace,
// the key and the charge.
func TestSignUpEndToEnd(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			mp := mailpittest.Start(t)
			srv := servertest.Start(t, k, "SMTP_URL="+mp.SMTPURL())
			for _, plan := range []string{"starter", "pro"} {
				slug := plan + "-" + string(k)
				var a signUpAnswer
				srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput(slug, plan)}, &a)
				require.True(t, strings.HasPrefix(a.SignUp.APIKey, "tdk_"))
				require.Equal(t, "PROVISIONING", a.SignUp.Tenant.State)

				msgs := follow(t, srv.URL, a.SignUp.APIKey, a.SignUp.Operation.ID)
				require.NotEmpty(t, msgs)
				final := msgs[len(msgs)-1].OperationProgress
				require.Equal(t, "SUCCEEDED", final.Status)
				require.Equal(t, 4, final.Progress.Done)
				seen := map[string]bool{}
				for _, m := range msgs {
					for _, st := range m.OperationProgress.Steps {
						if st.Status == "SUCCEEDED" {
							seen[st.Name] = true
						}
					}
				}
				require.Equal(t, map[string]bool{"create_workspace": true, "issue_keys": true, "send_confirmation": true, "activate": true}, seen)

				// The API key works and sees an ACTIVE tenant.
				var v struct {
					Viewer struct {
						Role   string
						Tenant struct {
							ID    uuid.UUID
							State string
						}
					}
				}
				srv.MustDo(t, a.SignUp.APIKey, `{ viewer { role tenant { id state } } }`, nil, &v)
				require.Equal(t, "TENANT", v.Viewer.Role)
				require.Equal(t, a.SignUp.Tenant.ID, v.Viewer.Tenant.ID)
				require.Equal(t, "ACTIVE", v.Viewer.Tenant.State)

				// The confirmation arrives once, for this tenant, with its link.
				var mine []mailpittest.Summary
				require.Eventually(t, func() bool {
					mine = nil
					for _, m := range mp.Messages(t) {
						if len(m.To) == 1 && m.To[0].Address == "owner@"+slug+".example.com" {
							mine = append(mine, m)
						}
					}
					return len(mine) > 0
				}, 10*time.Second, 50*time.Millisecond)
				time.Sleep(200 * time.Millisecond)
				require.Len(t, mine, 1, "exactly one confirmation")
				d := mp.Message(t, mine[0].ID)
				require.Contains(t, d.Text, a.SignUp.Tenant.ID.String())
				require.Contains(t, d.Text, srv.URL+"/#/tenants/"+a.SignUp.Tenant.ID.String())

				// One workspace of the plan's isolation, one key set, one charge.
				sys := tenantd.SystemContext(context.Background())
				ws, err := srv.DB().Ent.Workspace.Query().All(sys)
				require.NoError(t, err)
				n := 0
				for _, w := range ws {
					if w.TenantID == a.SignUp.Tenant.ID {
						n++
						require.EqualValues(t, strings.ToUpper(map[string]string{"starter": "pool", "pro": "silo"}[plan]), w.Isolation)
						if plan == "pro" && k == storetest.Postgres {
							require.Equal(t, workspace.SchemaName(a.SignUp.Tenant.ID), w.Location)
						}
					}
				}
				require.Equal(t, 1, n)
				c, err := srv.DB().Ent.Charge.Query().Count(sys)
				require.NoError(t, err)
				require.Positive(t, c)
			}
		})
	}
}

func TestSignUpBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			var taken signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("taken", "free")}, &taken)
			waitState(t, srv, taken.SignUp.Tenant.ID, tenantd.StateActive) // its email is queued by then
			sys := tenantd.SystemContext(context.Background())
			counts := func() [3]int {
				tn, err := srv.DB().Ent.Tenant.Query().Count(sys)
				require.NoError(t, err)
				ch, err := srv.DB().Ent.Charge.Query().Count(sys)
				require.NoError(t, err)
				ob, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.KindNEQ("")).Count(sys)
				require.NoError(t, err)
				return [3]int{tn, ch, ob}
			}
			before := counts()
			with := func(field string, v any) map[string]any {
				in := signUpInput("fresh-slug", "free")
				in[field] = v
				return in
			}
			cases := []struct {
				in    map[string]any
				code  string
				field string
			}{
				{with("email", "not-an-email"), "INVALID_INPUT", "email"},
				{with("email", "Owner <owner@example.com>"), "INVALID_INPUT", "email"},
				{with("slug", "Bad Slug!"), "INVALID_INPUT", "slug"},
				{with("slug", "ab"), "INVALID_INPUT", "slug"},
				{with("slug", "admin"), "INVALID_INPUT", "slug"},
				{with("slug", "taken"), "INVALID_INPUT", "slug"},
				{with("plan", "platinum"), "INVALID_INPUT", "plan"},
				{with("paymentMethod", "pm_card_chargeDeclined"), "PAYMENT_DECLINED", "paymentMethod"},
				{with("paymentMethod", "tok_visa"), "INVALID_INPUT", "paymentMethod"},
				{with("name", strings.Repeat("n", 101)), "INVALID_INPUT", "name"},
				{with("name", "   "), "INVALID_INPUT", "name"},
				{with("idempotencyKey", "short"), "INVALID_INPUT", "idempotencyKey"},
			}
			for _, c := range cases {
				r := srv.Do(t, "", signUpMutation, map[string]any{"in": c.in})
				require.Equal(t, c.code, r.Code(), "%v: %+v", c.in, r.Errors)
				require.Equal(t, c.field, r.Errors[0].Extensions["field"], "%v", c.in)
				require.NotEmpty(t, r.Errors[0].Message)
			}
			require.Equal(t, before, counts(), "nothing created, nothing charged, nothing mailed")
		})
	}
}

func TestSignUpIdempotency(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			sys := tenantd.SystemContext(context.Background())
			in := signUpInput("idem", "starter")
			var a1, a2 signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": in}, &a1)
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": in}, &a2)
			require.Equal(t, a1.SignUp.Tenant.ID, a2.SignUp.Tenant.ID, "the same key returns the first answer")
			require.Equal(t, a1.SignUp.APIKey, a2.SignUp.APIKey)
			require.Equal(t, a1.SignUp.Operation.ID, a2.SignUp.Operation.ID)

			other := map[string]any{}
			for k, v := range in {
				other[k] = v
			}
			other["name"] = "Another name"
			r := srv.Do(t, "", signUpMutation, map[string]any{"in": other})
			require.Equal(t, "IDEMPOTENCY_MISMATCH", r.Code())

			// A declined card is remembered too: retrying the key replays it.
			declined := signUpInput("declined", "starter")
			declined["paymentMethod"] = "pm_card_chargeDeclined"
			for range 2 {
				r := srv.Do(t, "", signUpMutation, map[string]any{"in": declined})
				require.Equal(t, "PAYMENT_DECLINED", r.Code())
			}

			// Ten concurrent duplicates: one signup, one charge; the others
			// get the same answer or CONFLICT.
			dup := signUpInput("concurrent", "free")
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[string]int{}
			ids := map[uuid.UUID]bool{}
			for range 10 {
				wg.Go(func() {
					r := srv.Do(t, "", signUpMutation, map[string]any{"in": dup})
					mu.Lock()
					defer mu.Unlock()
					codes[r.Code()]++
					if r.Code() == "" {
						var a signUpAnswer
						require.NoError(t, json.Unmarshal(r.Data, &a))
						ids[a.SignUp.Tenant.ID] = true
					}
				})
			}
			wg.Wait()
			require.Len(t, ids, 1, "codes: %v", codes)
			require.Equal(t, 10, codes[""]+codes["CONFLICT"], "codes: %v", codes)
			n, err := srv.DB().Ent.Tenant.Query().Where(tenant.Slug("concurrent")).Count(sys)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			charges, err := srv.DB().Ent.Charge.Query().Where(charge.PlanKey("free")).Count(sys)
			require.NoError(t, err)
			require.Equal(t, 1, charges, "never a second charge")
		})
	}
}

// TestSignUpWithStripe signs up through the Stripe provider, talking to
// Stripe's own API mock (stateless: it proves the adapter speaks the API).
func TestSignUpWithStripe(t *testing.T) {
	t.Parallel()
	base := stripemock.Start(t)
	srv := servertest.Start(t, storetest.SQLite, "STRIPE_SECRET_KEY=sk_test_123", "STRIPE_API_BASE="+base)
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("stripe-paid", "pro")}, &a)
	waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
	sys := tenantd.SystemContext(context.Background())
	tn, err := srv.DB().Ent.Tenant.Get(sys, a.SignUp.Tenant.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(*tn.BillingCustomerID, "cus_"))
	require.True(t, strings.HasPrefix(*tn.BillingSubscriptionID, "sub_"))
	ch, err := srv.DB().Ent.Charge.Query().Only(sys)
	require.NoError(t, err)
	require.Equal(t, "stripe", ch.Provider)
	require.Equal(t, 9900, ch.AmountCents)
}

// TestIdempotencyKeyIsAnAdminNode: an admin can look a held key up by id
// (scope, status, expiry — never its hashes or stored answer); a partner
// cannot see it.
func TestIdempotencyKeyIsAnAdminNode(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("node-key", "free")}, nil)
	k, err := srv.DB().Ent.IdempotencyKey.Query().Only(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	var d struct {
		Node struct {
			Scope, Status string
		}
	}
	srv.MustDo(t, admin, `query($id: ID!) { node(id: $id) { ... on IdempotencyKey { scope status } } }`, map[string]any{"id": k.ID}, &d)
	require.Equal(t, "signUp", d.Node.Scope)
	require.Equal(t, "COMPLETED", d.Node.Status)
	r := srv.Do(t, (&fixture{srv: srv}).partnerToken(t), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": k.ID})
	require.Equal(t, "NOT_FOUND", r.Code())
}
