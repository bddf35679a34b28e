package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestBillingFollowsTheLifecycle: cancelSubscription cancels the
// subscription at the provider, reactivateTenant resumes it, and purge
// deletes the customer — each as a step of its operation, one call in
// effect even when the operation's steps run again (a job run twice).
// With the built-in provider on both stores, and with Stripe's adapter
// against stripe-mock.
func TestBillingFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	type setup struct {
		name string
		kind storetest.Kind
		env  func(t *testing.T) []string
	}
	var cases []setup
	for _, k := range storetest.Kinds(t) {
		cases = append(cases, setup{"test provider/" + string(k), k, func(*testing.T) []string { return nil }})
	}
	cases = append(cases, setup{"stripe-mock", storetest.SQLite, func(t *testing.T) []string {
		return []string{"STRIPE_SECRET_KEY=sk_test_123", "STRIPE_API_BASE=" + stripemock.Start(t)}
	}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, c.kind, c.env(t)...)
			ctx := context.Background()
			sys := tenantd.SystemContext(ctx)
			a := activeTenant(t, srv, "billed-"+uuid.NewString()[:6], "pro")
			id := a.SignUp.Tenant.ID
			calls := func(call billingcall.Call) int {
				n, err := srv.DB().Ent.BillingCall.Query().Where(billingcall.CallEQ(call)).Count(sys)
				require.NoError(t, err)
				return n
			}
			finish := func(kind tenantd.OperationKind) *ent.Operation {
				t.Helper()
				var op *ent.Operation
				require.Eventually(t, func() bool {
					var err error
					op, err = srv.DB().Ent.Operation.Query().
						Where(operation.TenantID(id), operation.KindEQ(kind)).Order(ent.Desc(operation.FieldCreatedAt)).First(sys)
					return err == nil && op.Status.Done()
				}, 30*time.Second, 5*time.Millisecond, "%s never finished", kind)
				require.Equal(t, tenantd.OpSucceeded, op.Status, "%s: %v", kind, op.ErrorMessage)
				return op
			}
			onceEvenIfRunAgain := func(op *ent.Operation, call billingcall.Call) {
				t.Helper()
				require.Equal(t, 1, calls(call), "one %s call", call)
				require.NoError(t, srv.Operations().Rerun(ctx, op.ID), "the steps run again")
				require.Equal(t, 1, calls(call), "still one %s call after the steps ran again", call)
			}

			var d struct {
				CancelSubscription struct{ Operation struct{ Kind string } }
			}
			srv.MustDo(t, a.SignUp.APIKey, fmt.Sprintf(`mutation { cancelSubscription(input: {tenantId: "%s", atPeriodEnd: false}) { operation { kind } } }`, id), nil, &d)
			require.Equal(t, "CANCEL", d.CancelSubscription.Operation.Kind)
			onceEvenIfRunAgain(finish(tenantd.OpCancel), billingcall.CallCancel)

			srv.MustDo(t, a.SignUp.APIKey, fmt.Sprintf(`mutation { reactivateTenant(input: {tenantId: "%s"}) { operation { kind } } }`, id), nil, nil)
			onceEvenIfRunAgain(finish(tenantd.OpReactivate), billingcall.CallReactivate)

			_, err := lifecycle.New(lifecycle.Config{DB: srv.DB()}).Fire(sys, lifecycle.Request{TenantID: id,
				Event: tenantd.EventRequestDeletion, Actor: lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "test"}})
			require.NoError(t, err)
			op, err := srv.Purger().Purge(sys, id, lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "test"}, "")
			require.NoError(t, err)
			require.Equal(t, true, op.Result["billingCustomerDeleted"])
			onceEvenIfRunAgain(op, billingcall.CallDeleteCustomer)
		})
	}
}
