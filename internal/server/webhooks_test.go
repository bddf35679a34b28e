package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

const webhookSecret = "whsec_test_secret_for_tenantd"

func postWebhook(t *testing.T, srv *servertest.Server, payload []byte, signature string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/stripe", bytes.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func stripeEvent(id, typ, customer, subscription string) []byte {
	obj := map[string]any{"id": "in_" + id, "object": "invoice", "customer": customer, "subscription": subscription}
	if typ == "customer.subscription.deleted" {
		obj = map[string]any{"id": subscription, "object": "subscription", "customer": customer, "status": "canceled"}
	}
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": "2025-03-31.basil",
		"created": time.Now().Unix(), "data": map[string]any{"object": obj},
	})
	return b
}

// TestStripeWebhooks drives a tenant through billing events: a failed
// payment suspends, a paid invoice resumes, a deleted subscription cancels;
// a bad signature is refused and changes nothing; a redelivered event is
// applied once.
func TestStripeWebhooks(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k, "STRIPE_WEBHOOK_SECRET="+webhookSecret)
			var a signUpAnswer
			srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput("billed", "starter")}, &a)
			id := a.SignUp.Tenant.ID
			waitState(t, srv, id, tenantd.StateActive)
			sys := tenantd.SystemContext(context.Background())
			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			cus, sub := *tn.BillingCustomerID, *tn.BillingSubscriptionID
			state := func() tenantd.State {
				tn, err := srv.DB().Ent.Tenant.Get(sys, id)
				require.NoError(t, err)
				return tn.State
			}
			send := func(evID, typ string) map[string]any {
				p := stripeEvent(evID, typ, cus, sub)
				code, body := postWebhook(t, srv, p, billing.SignedTestPayload(p, webhookSecret))
				require.Equal(t, 200, code, "%v", body)
				return body
			}

			// A bad signature: 400 and nothing changes.
			p := stripeEvent("evt_forged", "invoice.payment_failed", cus, sub)
			code, _ := postWebhook(t, srv, p, billing.SignedTestPayload(p, "whsec_wrong"))
			require.Equal(t, 400, code)
			code, _ = postWebhook(t, srv, p, "")
			require.Equal(t, 400, code)
			require.Equal(t, tenantd.StateActive, state())

			send("evt_1", "invoice.payment_failed")
			require.Equal(t, tenantd.StateSuspended, state())
			body := send("evt_1", "invoice.payment_failed") // redelivery
			require.Contains(t, body["outcome"], "duplicate")
			send("evt_2", "invoice.paid")
			require.Equal(t, tenantd.StateActive, state())
			send("evt_3", "invoice.paid") // paid while ACTIVE: nothing to do
			require.Equal(t, tenantd.StateActive, state())
			send("evt_4", "customer.subscription.deleted")
			require.Equal(t, tenantd.StateCanceled, state())
			send("evt_5", "charge.refunded") // not acted on

			var d struct {
				Tenant struct {
					Transitions struct {
						Edges []struct {
							Node struct {
								Event, TriggeredBy, Actor string
								Metadata                  map[string]any
							}
						}
					}
				}
			}
			srv.MustDo(t, admin, `query($id: ID!) { tenant(id: $id) { transitions { edges { node { event triggeredBy actor metadata } } } } }`,
				map[string]any{"id": id}, &d)
			var events []string
			for _, e := range d.Tenant.Transitions.Edges[3:] {
				events = append(events, e.Node.Event)
				require.Equal(t, "SYSTEM", e.Node.TriggeredBy)
				require.Equal(t, "billing:stripe", e.Node.Actor)
			}
			require.Equal(t, []string{"suspend", "resume", "cancel"}, events, "each event applied once")
			require.Equal(t, "evt_1", d.Tenant.Transitions.Edges[3].Node.Metadata["stripe_event"])

			// An event for an unknown customer is recorded and ignored.
			p = stripeEvent("evt_6", "invoice.payment_failed", "cus_unknown", "sub_unknown")
			code, body = postWebhook(t, srv, p, billing.SignedTestPayload(p, webhookSecret))
			require.Equal(t, 200, code)
			require.Contains(t, body["outcome"], "no tenant")
			_ = fmt.Sprint(uuid.Nil)
		})
	}
}
