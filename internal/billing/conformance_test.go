package billing_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// The conformance suite: every lifecycle call of the Provider interface,
// run against the test provider and against the Stripe provider talking to
// stripe-mock, each on SQLite and PostgreSQL. It asserts what any provider
// must do: each call made twice with one key (the second time by a new
// provider over the same database, as when an operation's job runs again
// after a restart) has one effect and answers the first result; failures
// record nothing; a key is never answered for another call.
//
// stripe-mock is stateless, so the Stripe harness gives it, through a
// recording proxy, the little state a case needs: the subscription belongs
// to the signup's customer, a subscription has ended, a card is declined, a
// customer is gone. The proxy's record is what "one effect" means at
// Stripe: the requests that change something, and the Idempotency-Key each
// carried.

// t0 is the suite's fake time: the signup happens at it.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// harness is one provider under the suite, with a signup's subscription.
type harness struct {
	p billing.Provider
	// restart returns a new provider over the same database and peer.
	restart func() billing.Provider
	db      *store.DB
	clock   *clockwork.FakeClock
	sub     *billing.Subscription
	// effects returns how many effects the calls made with key had at the
	// provider: ledger rows for the test provider, requests that change
	// something (carrying a key derived from key) for Stripe.
	effects func(t *testing.T, key string) int
	// end has the signup's subscription ended at the provider.
	end func(t *testing.T)
	// decline has the provider decline the next new subscription's charge
	// to the returned payment method.
	decline func(t *testing.T) string
	// unknownPM returns a payment method the provider does not know.
	unknownPM func(t *testing.T) string
	// gone has the provider no longer know the customer (after its
	// deletion).
	gone func(t *testing.T, customerID string)
	// prefix makes the case's keys its own in the shared database.
	prefix string
}

// key returns the case's idempotency key named name.
func (h *harness) key(name string) string { return h.prefix + name }

type providerKind string

const (
	testKind   providerKind = "test"
	stripeKind providerKind = "stripe"
)

// eachProvider runs each case on a fresh harness of every provider and
// database kind; the Stripe harnesses use the stripe-mock at apiBase. The
// cases of a database kind share one database (each signs up its own
// customer and uses keys of its own), as providers share tenantd's.
func eachProvider(t *testing.T, apiBase string, cases []conformanceCase) {
	t.Helper()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			db := storetest.New(t, k)
			for _, pk := range []providerKind{testKind, stripeKind} {
				for _, c := range cases {
					t.Run(string(pk)+"/"+c.name, func(t *testing.T) {
						t.Parallel()
						c.fn(t, newHarness(t, db, pk, apiBase, c.name))
					})
				}
			}
		})
	}
}

func newHarness(t *testing.T, db *store.DB, pk providerKind, apiBase, name string) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{db: db, clock: clockwork.NewFakeClockAt(t0), prefix: string(pk) + "/" + name + "/"}
	switch pk {
	case testKind:
		h.restart = func() billing.Provider { return billing.NewTestProvider(db.Ent, billing.WithClock(h.clock)) }
		h.effects = func(t *testing.T, key string) int { return len(callsWithKey(t, db.Ent, key)) }
		h.end = func(t *testing.T) {
			_, err := h.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: "end-" + h.sub.SubscriptionID, SubscriptionID: h.sub.SubscriptionID})
			require.NoError(t, err)
		}
		h.decline = func(*testing.T) string { return billing.PMCardChargeDeclined }
		h.unknownPM = func(*testing.T) string { return "pm_card_nope" }
		h.gone = func(*testing.T, string) {}
	case stripeKind:
		proxy := stripemock.NewProxy(t, apiBase)
		h.restart = func() billing.Provider {
			p, err := billing.NewStripeProvider(billing.StripeConfig{SecretKey: "sk_test_123", APIBase: proxy.URL, Clock: h.clock}, db.Ent)
			require.NoError(t, err)
			return p
		}
		h.effects = func(t *testing.T, key string) int {
			n := 0
			for _, r := range proxy.Mutations() {
				if strings.HasPrefix(r.IdempotencyKey, key) {
					n++
				}
			}
			return n
		}
		h.end = func(*testing.T) {
			proxy.SetFields("GET", "/v1/subscriptions/"+h.sub.SubscriptionID, map[string]any{"status": "canceled"})
		}
		h.decline = func(*testing.T) string {
			proxy.Fail("POST", "/v1/subscriptions", 402, map[string]any{
				"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
				"message": "Your card was declined.",
			})
			return billing.PMCardChargeDeclined
		}
		h.unknownPM = func(*testing.T) string {
			proxy.Fail("POST", "/v1/payment_methods/pm_card_nope/attach", 400, map[string]any{
				"type": "invalid_request_error", "code": "resource_missing", "param": "payment_method",
				"message": "No such PaymentMethod: 'pm_card_nope'",
			})
			return "pm_card_nope"
		}
		h.gone = func(_ *testing.T, customerID string) {
			proxy.Fail("DELETE", "/v1/customers/"+customerID, 404, map[string]any{
				"type": "invalid_request_error", "code": "resource_missing", "param": "id",
				"message": "No such customer: '" + customerID + "'",
			})
		}
		defer func() {
			// The subscription belongs to the signup's customer (stripe-mock
			// answers with a fixture customer).
			for _, m := range []string{"GET", "POST", "DELETE"} {
				proxy.SetFields(m, "/v1/subscriptions/*", map[string]any{"customer": h.sub.CustomerID})
			}
		}()
	}
	h.p = h.restart()
	sub, err := h.p.Subscribe(ctx, request("signup-"+string(pk)+"-"+name, billing.PMCardVisa))
	require.NoError(t, err)
	h.sub = sub
	return h
}

// conformanceCase is one case of the suite, run on a fresh harness.
type conformanceCase struct {
	name string
	fn   func(t *testing.T, h *harness)
}

// callsWithKey returns the ledger rows of key.
func callsWithKey(t *testing.T, client *ent.Client, key string) []*ent.BillingCall {
	t.Helper()
	rows, err := client.BillingCall.Query().Where(billingcall.IdempotencyKey(key)).All(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	return rows
}

// callsOf returns the ledger rows of a subscription.
func callsOf(t *testing.T, client *ent.Client, subscriptionID string) []*ent.BillingCall {
	t.Helper()
	rows, err := client.BillingCall.Query().Where(billingcall.SubscriptionID(subscriptionID)).All(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	return rows
}

// calls returns every ledger row, oldest first.
func calls(t *testing.T, client *ent.Client) []*ent.BillingCall {
	t.Helper()
	rows, err := client.BillingCall.Query().Order(ent.Asc(billingcall.FieldCreatedAt), ent.Asc(billingcall.FieldID)).
		All(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	return rows
}

// twice makes a call with key, then again through a restarted provider, and
// checks that the second answered the first's result and had no effect.
func twice[T any](t *testing.T, h *harness, key string, do func(billing.Provider) (*T, error), replayed func(*T) *bool) *T {
	t.Helper()
	first, err := do(h.p)
	require.NoError(t, err)
	require.False(t, *replayed(first), "the first call with a key is not a replay")
	n := h.effects(t, key)
	require.Positive(t, n, "the call had an effect")
	require.Len(t, callsWithKey(t, h.db.Ent, key), 1)

	second, err := do(h.restart())
	require.NoError(t, err)
	require.True(t, *replayed(second), "the second call with the key is a replay")
	require.Equal(t, n, h.effects(t, key), "the replay had no effect")
	require.Len(t, callsWithKey(t, h.db.Ent, key), 1)

	a, b := *first, *second
	*replayed(&a), *replayed(&b) = false, false
	require.Equal(t, a, b, "the replay answers the first result")
	return first
}

func stateReplayed(s *billing.SubscriptionState) *bool { return &s.Replayed }

// noEffect checks that a failed call with key left nothing behind.
func noEffect(t *testing.T, h *harness, key string) {
	t.Helper()
	require.Zero(t, h.effects(t, key))
	require.Empty(t, callsWithKey(t, h.db.Ent, key))
}

var ctx = context.Background()

var conformanceCases = []conformanceCase{
	{"cancel", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		st := twice(t, h, h.key("op1:cancel"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("op1:cancel"), SubscriptionID: subID,
				Feedback: billing.FeedbackTooExpensive, Comment: "we found it too dear"})
		}, stateReplayed)
		require.Equal(t, h.p.Name(), st.Provider)
		require.Equal(t, subID, st.SubscriptionID)
		require.Equal(t, h.sub.CustomerID, st.CustomerID)
		row := callsWithKey(t, h.db.Ent, h.key("op1:cancel"))[0]
		require.Equal(t, billingcall.CallCancel, row.Call)
		require.Equal(t, h.p.Name(), row.Provider)
		require.Equal(t, subID, row.SubscriptionID)
		require.Equal(t, h.sub.CustomerID, row.CustomerID)
		require.NotNil(t, row.Comment)
		require.Equal(t, "we found it too dear", *row.Comment)
		require.NotContains(t, string(row.Result), "too dear", "the comment stays out of the answer")

		// Canceling an ended subscription succeeds.
		_, err := h.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("op2:cancel"), SubscriptionID: subID})
		require.NoError(t, err)
	}},

	{"cancel at period end and undo", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		st := twice(t, h, h.key("op3:cancel"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("op3:cancel"), SubscriptionID: subID,
				AtPeriodEnd: true, Feedback: billing.FeedbackUnused})
		}, stateReplayed)
		require.True(t, st.CancelAtPeriodEnd)
		require.False(t, st.CurrentPeriodEnd.IsZero())
		twice(t, h, h.key("op4:undo"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.UndoCancellation(ctx, billing.UndoCancellationRequest{IdempotencyKey: h.key("op4:undo"), SubscriptionID: subID})
		}, stateReplayed)
	}},

	{"cancel with unknown feedback", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		_, err := h.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("op5:cancel"), SubscriptionID: subID, Feedback: "meh"})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, billing.FieldFeedback, tenantd.AsError(err).Field)
		noEffect(t, h, h.key("op5:cancel"))
	}},

	{"reactivate resumes a live subscription", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		st := twice(t, h, h.key("op6:billing"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("op6:billing"), SubscriptionID: subID,
				PlanKey: "starter", PriceCents: 2900, Coupon: &billing.RetentionCoupon{PercentOff: 25, DurationMonths: 3}})
		}, stateReplayed)
		require.Equal(t, subID, st.SubscriptionID)
		require.NotEmpty(t, st.CouponID)
	}},

	{"pause and resume", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		resumesAt := t0.AddDate(0, 0, 7)
		st := twice(t, h, h.key("op7:pause"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Pause(ctx, billing.PauseRequest{IdempotencyKey: h.key("op7:pause"), SubscriptionID: subID, ResumesAt: resumesAt})
		}, stateReplayed)
		require.True(t, st.Paused)
		twice(t, h, h.key("op8:resume"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Resume(ctx, billing.ResumeRequest{IdempotencyKey: h.key("op8:resume"), SubscriptionID: subID})
		}, stateReplayed)

		_, err := h.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: h.key("op9:pause"), SubscriptionID: subID, ResumesAt: t0.Add(-time.Hour)})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, billing.FieldResumesAt, tenantd.AsError(err).Field)
		noEffect(t, h, h.key("op9:pause"))
	}},

	{"change plan", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		before, err := h.p.SubscriptionState(ctx, subID)
		require.NoError(t, err)
		require.Equal(t, subID, before.SubscriptionID)
		// (stripe-mock's fixture period ends before it starts.)
		require.False(t, before.CurrentPeriodEnd.IsZero())

		// A dry run first: it changes nothing.
		n := len(callsOf(t, h.db.Ent, subID))
		for _, atPeriodEnd := range []bool{false, true} {
			pv, err := h.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900, AtPeriodEnd: atPeriodEnd})
			require.NoError(t, err)
			require.Equal(t, 9900-before.PriceCents, pv.MonthlyDifferenceCents)
			require.Equal(t, max(0, pv.ProrationCents), pv.AmountDueNowCents)
			require.Equal(t, "usd", pv.Currency)
			require.Equal(t, before.CurrentPeriodEnd, pv.PeriodEnd)
			if atPeriodEnd {
				require.Zero(t, pv.AmountDueNowCents)
				require.Zero(t, pv.ProrationCents)
			} else {
				require.Positive(t, pv.AmountDueNowCents, "an upgrade costs something now")
			}
		}
		require.Len(t, callsOf(t, h.db.Ent, subID), n, "previews record nothing")

		st := twice(t, h, h.key("op10:billing"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: h.key("op10:billing"), SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900})
		}, stateReplayed)
		require.Equal(t, subID, st.SubscriptionID)
		twice(t, h, h.key("op11:billing"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: h.key("op11:billing"), SubscriptionID: subID, PlanKey: "starter", PriceCents: 2900, AtPeriodEnd: true})
		}, stateReplayed)
	}},

	{"reactivate subscribes anew after the end", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		h.end(t)
		pm := h.unknownPM(t)
		_, err := h.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("op12:billing"), SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900, PaymentMethod: pm})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err), "%v", err)
		require.Equal(t, billing.FieldPaymentMethod, tenantd.AsError(err).Field)
		require.Empty(t, callsWithKey(t, h.db.Ent, h.key("op12:billing")))

		_, err = h.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("op13:billing"), SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900,
			Coupon: &billing.RetentionCoupon{PercentOff: 120, DurationMonths: 3}})
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, billing.FieldPercentOff, tenantd.AsError(err).Field)
		noEffect(t, h, h.key("op13:billing"))

		st := twice(t, h, h.key("op14:billing"), func(p billing.Provider) (*billing.SubscriptionState, error) {
			return p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("op14:billing"), SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900,
				PaymentMethod: billing.PMCardVisa, Coupon: &billing.RetentionCoupon{PercentOff: 50, DurationMonths: 2}, TenantSlug: "acme"})
		}, stateReplayed)
		require.NotEqual(t, subID, st.SubscriptionID, "an ended subscription is replaced")
		require.Regexp(t, `^sub_`, st.SubscriptionID)
		require.Equal(t, h.sub.CustomerID, st.CustomerID)
		require.NotEmpty(t, st.CouponID)
		row := callsWithKey(t, h.db.Ent, h.key("op14:billing"))[0]
		require.Equal(t, st.SubscriptionID, row.SubscriptionID, "the ledger names the new subscription")

		pm = h.decline(t)
		_, err = h.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("op15:billing"), SubscriptionID: subID, PlanKey: "pro", PriceCents: 9900, PaymentMethod: pm})
		require.Equal(t, tenantd.EPAYMENTDECLINED, tenantd.ErrorCode(err), "%v", err)
		require.Equal(t, billing.FieldPaymentMethod, tenantd.AsError(err).Field)
		require.Contains(t, tenantd.AsError(err).Message, "declined")
		require.Empty(t, callsWithKey(t, h.db.Ent, h.key("op15:billing")), "a decline records nothing: the key stays free")
	}},

	{"delete customer", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		_, err := h.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("op16:cancel"), SubscriptionID: subID, AtPeriodEnd: true, Comment: "Ada, ada@example.com"})
		require.NoError(t, err)

		d := twice(t, h, h.key("op17:billing"), func(p billing.Provider) (*billing.CustomerDeletion, error) {
			return p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: h.key("op17:billing"), CustomerID: h.sub.CustomerID})
		}, func(d *billing.CustomerDeletion) *bool { return &d.Replayed })
		require.Equal(t, h.sub.CustomerID, d.CustomerID)
		require.Positive(t, d.RedactedCalls)
		for _, row := range calls(t, h.db.Ent) {
			if row.CustomerID == h.sub.CustomerID && row.Call != billingcall.CallDeleteCustomer {
				require.Nil(t, row.Comment, "%s call keeps no comment", row.Call)
				require.NotNil(t, row.RedactedAt)
			}
		}

		// Deleting a deleted customer succeeds (another operation).
		h.gone(t, h.sub.CustomerID)
		again, err := h.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: h.key("op18:billing"), CustomerID: h.sub.CustomerID})
		require.NoError(t, err)
		require.False(t, again.Replayed)
		require.Zero(t, again.RedactedCalls)
	}},

	{"a key answers only its own call", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		_, err := h.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: h.key("op19:billing"), SubscriptionID: subID})
		require.NoError(t, err)
		effects := h.effects(t, h.key("op19:billing"))
		_, err = h.p.Resume(ctx, billing.ResumeRequest{IdempotencyKey: h.key("op19:billing"), SubscriptionID: subID})
		require.ErrorIs(t, err, billing.ErrKeyReused)
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		_, err = h.p.Pause(ctx, billing.PauseRequest{IdempotencyKey: h.key("op19:billing"), SubscriptionID: subID, ResumesAt: t0.AddDate(0, 1, 0)})
		require.ErrorIs(t, err, billing.ErrKeyReused)
		require.Equal(t, effects, h.effects(t, h.key("op19:billing")))
	}},

	{"tenantd's own mistakes are internal", func(t *testing.T, h *harness) {
		subID := h.sub.SubscriptionID
		errs := []error{
			second(h.p.Cancel(ctx, billing.CancelRequest{SubscriptionID: subID})),
			second(h.p.Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("k")})),
			second(h.p.UndoCancellation(ctx, billing.UndoCancellationRequest{SubscriptionID: subID})),
			second(h.p.Reactivate(ctx, billing.ReactivateRequest{SubscriptionID: subID, PlanKey: "pro"})),
			second(h.p.Reactivate(ctx, billing.ReactivateRequest{IdempotencyKey: h.key("k"), SubscriptionID: subID})),
			second(h.p.ChangePlan(ctx, billing.ChangePlanRequest{SubscriptionID: subID, PlanKey: "pro"})),
			second(h.p.ChangePlan(ctx, billing.ChangePlanRequest{IdempotencyKey: h.key("k"), SubscriptionID: subID})),
			second(h.p.PreviewPlanChange(ctx, billing.PreviewPlanChangeRequest{PlanKey: "pro"})),
			second(h.p.Pause(ctx, billing.PauseRequest{SubscriptionID: subID})),
			second(h.p.Resume(ctx, billing.ResumeRequest{SubscriptionID: subID})),
			second(h.p.SubscriptionState(ctx, "")),
			second(h.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{CustomerID: h.sub.CustomerID})),
			second(h.p.DeleteCustomer(ctx, billing.DeleteCustomerRequest{IdempotencyKey: h.key("k")})),
		}
		for i, err := range errs {
			require.Error(t, err, "call %d", i)
			require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err), "call %d: %v", i, err)
		}
		noEffect(t, h, h.key("k"))
	}},

	// The same key at once from many callers: one ledger row, one fresh
	// answer, every answer the same.
	{"one key at once", func(t *testing.T, h *harness) {
		const n = 10
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]*billing.SubscriptionState, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = h.restart().Cancel(ctx, billing.CancelRequest{IdempotencyKey: h.key("race:cancel"), SubscriptionID: h.sub.SubscriptionID})
			}()
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := range n {
			require.NoError(t, errs[i])
			if !results[i].Replayed {
				fresh++
			}
			a, b := *results[0], *results[i]
			a.Replayed, b.Replayed = false, false
			require.Equal(t, a, b)
		}
		require.Equal(t, 1, fresh, "exactly one answer is not a replay")
		require.Len(t, callsWithKey(t, h.db.Ent, h.key("race:cancel")), 1)
	}},
}

func TestProviderConformance(t *testing.T) {
	t.Parallel()
	eachProvider(t, stripemock.Start(t), conformanceCases)
}

// second returns the error of a call's results.
func second[T any](_ T, err error) error { return err }
