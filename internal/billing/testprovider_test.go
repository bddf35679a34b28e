package billing_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/charge"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

func request(key, pm string) billing.SubscribeRequest {
	return billing.SubscribeRequest{
		IdempotencyKey: key,
		Email:          "ada@example.com",
		Name:           "Ada Lovelace",
		TenantSlug:     "acme",
		PlanKey:        "starter",
		PriceCents:     2900,
		PaymentMethod:  pm,
	}
}

func charges(t *testing.T, client *ent.Client) []*ent.Charge {
	t.Helper()
	rows, err := client.Charge.Query().Order(ent.Asc(charge.FieldCreatedAt)).All(tenantd.SystemContext(context.Background()))
	require.NoError(t, err)
	return rows
}

func TestTestProviderSubscribe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := billing.NewTestProvider(db.Ent)
		require.Equal(t, "test", p.Name())

		sub, err := p.Subscribe(ctx, request("signup-1", billing.PMCardVisa))
		require.NoError(t, err)
		require.Equal(t, "test", sub.Provider)
		require.Regexp(t, `^cus_test_[0-9a-f]{24}$`, sub.CustomerID)
		require.Regexp(t, `^sub_test_[0-9a-f]{24}$`, sub.SubscriptionID)
		require.False(t, sub.Replayed)

		rows := charges(t, db.Ent)
		require.Len(t, rows, 1)
		c := rows[0]
		require.Equal(t, "test", c.Provider)
		require.Equal(t, "signup-1", c.IdempotencyKey)
		require.Equal(t, sub.CustomerID, c.CustomerID)
		require.Equal(t, sub.SubscriptionID, c.SubscriptionID)
		require.Equal(t, "starter", c.PlanKey)
		require.Equal(t, 2900, c.AmountCents)

		// Another key, another customer; mastercard works too.
		sub2, err := p.Subscribe(ctx, request("signup-2", billing.PMCardMastercard))
		require.NoError(t, err)
		require.NotEqual(t, sub.CustomerID, sub2.CustomerID)
		require.NotEqual(t, sub.SubscriptionID, sub2.SubscriptionID)
		require.Len(t, charges(t, db.Ent), 2)

		require.NoError(t, p.CancelSubscription(ctx, sub.SubscriptionID))
		require.NoError(t, p.CancelSubscription(ctx, sub.SubscriptionID))
		require.Error(t, p.CancelSubscription(ctx, "sub_1Abc"))
	})
}

func TestTestProviderDeclineWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := billing.NewTestProvider(db.Ent)
		for _, pm := range []string{billing.PMCardChargeDeclined, billing.PMCardInsufficientFunds} {
			_, err := p.Subscribe(ctx, request("signup-declined-"+pm, pm))
			require.Error(t, err)
			e := tenantd.AsError(err)
			require.NotNil(t, e, "%v", err)
			require.Equal(t, tenantd.EPAYMENTDECLINED, e.Code)
			require.Equal(t, "paymentMethod", e.Field)
			require.Contains(t, e.Message, "declined")
			require.Contains(t, e.Message, pm)
			require.Contains(t, e.Message, "use another payment method")
		}
		require.Empty(t, charges(t, db.Ent))

		// The declined key is still free: a retry with a good card charges.
		sub, err := p.Subscribe(ctx, request("signup-declined-"+billing.PMCardChargeDeclined, billing.PMCardVisa))
		require.NoError(t, err)
		require.False(t, sub.Replayed)
		require.Len(t, charges(t, db.Ent), 1)
	})
}

func TestTestProviderUnknownPaymentMethod(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := billing.NewTestProvider(db.Ent)
		for _, pm := range []string{"pm_card_nope", "tok_visa", ""} {
			_, err := p.Subscribe(ctx, request("signup-unknown", pm))
			require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err), "%q: %v", pm, err)
			require.Equal(t, "paymentMethod", tenantd.AsError(err).Field)
		}
		require.Empty(t, charges(t, db.Ent))

		_, err := p.Subscribe(ctx, request("", billing.PMCardVisa))
		require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
		require.Empty(t, charges(t, db.Ent))
	})
}

func TestTestProviderSameKeyTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, err := billing.NewTestProvider(db.Ent).Subscribe(ctx, request("signup-twice", billing.PMCardVisa))
		require.NoError(t, err)
		require.False(t, first.Replayed)

		// A new provider over the same database, as after a restart.
		again, err := billing.NewTestProvider(db.Ent).Subscribe(ctx, request("signup-twice", billing.PMCardVisa))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.CustomerID, again.CustomerID)
		require.Equal(t, first.SubscriptionID, again.SubscriptionID)
		require.Len(t, charges(t, db.Ent), 1)

		// A charged key answers from the ledger, whatever the card now.
		declinedCard, err := billing.NewTestProvider(db.Ent).Subscribe(ctx, request("signup-twice", billing.PMCardChargeDeclined))
		require.NoError(t, err)
		require.Equal(t, *again, *declinedCard)
		require.Len(t, charges(t, db.Ent), 1)
	})
}

func TestTestProviderConcurrentSameKey(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := billing.NewTestProvider(db.Ent)
		const n = 20
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]*billing.Subscription, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = p.Subscribe(ctx, request("signup-race", billing.PMCardVisa))
			}()
		}
		close(start)
		wg.Wait()

		fresh := 0
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, results[0].CustomerID, results[i].CustomerID)
			require.Equal(t, results[0].SubscriptionID, results[i].SubscriptionID)
			if !results[i].Replayed {
				fresh++
			}
		}
		require.Equal(t, 1, fresh, "exactly one call charges")
		require.Len(t, charges(t, db.Ent), 1)
	})
}
