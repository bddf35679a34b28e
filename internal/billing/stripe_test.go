package billing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/billing/stripemock"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// stripe-mock is stateless: it answers every call with fixture data (the
// same cus_/sub_ ids each time), ignores idempotency keys and never declines
// a card. These tests therefore show that the provider speaks Stripe's API
// as the spec describes it and keeps its ledger; declines are covered by the
// error mapping unit test.

func TestStripeProviderSubscribe(t *testing.T) {
	t.Parallel()
	apiBase := stripemock.Start(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, err := billing.NewStripeProvider(billing.StripeConfig{SecretKey: "sk_test_123", APIBase: apiBase,
			Prices: map[string]string{"pro": "price_1ProMonthly"}}, db.Ent)
		require.NoError(t, err)
		require.Equal(t, "stripe", p.Name())
		require.Equal(t, "price_1ProMonthly", p.PriceID("pro"))
		require.Equal(t, "price_starter", p.PriceID("starter"))

		sub, err := p.Subscribe(ctx, request("signup-stripe", billing.PMCardVisa))
		require.NoError(t, err)
		require.Equal(t, "stripe", sub.Provider)
		require.Regexp(t, `^cus_`, sub.CustomerID)
		require.Regexp(t, `^sub_`, sub.SubscriptionID)
		require.False(t, sub.Replayed)

		rows := charges(t, db.Ent)
		require.Len(t, rows, 1)
		require.Equal(t, "stripe", rows[0].Provider)
		require.Equal(t, "signup-stripe", rows[0].IdempotencyKey)
		require.Equal(t, sub.CustomerID, rows[0].CustomerID)
		require.Equal(t, sub.SubscriptionID, rows[0].SubscriptionID)
		require.Equal(t, "starter", rows[0].PlanKey)
		require.Equal(t, 2900, rows[0].AmountCents)

		// The same key again: Stripe replays (here: stripe-mock answers the
		// same fixture) and the ledger already holds the key.
		again, err := p.Subscribe(ctx, request("signup-stripe", billing.PMCardVisa))
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, sub.CustomerID, again.CustomerID)
		require.Equal(t, sub.SubscriptionID, again.SubscriptionID)
		require.Len(t, charges(t, db.Ent), 1)

		require.NoError(t, p.CancelSubscription(ctx, sub.SubscriptionID))
		require.NoError(t, p.CancelSubscription(ctx, sub.SubscriptionID))
	})
}

func TestStripeProviderRejectsBeforeCallingStripe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// No server at all: these must fail before any request.
		p, err := billing.NewStripeProvider(billing.StripeConfig{SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:1"}, db.Ent)
		require.NoError(t, err)
		_, err = p.Subscribe(context.Background(), request("signup-empty", ""))
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, "paymentMethod", tenantd.AsError(err).Field)
		require.Empty(t, charges(t, db.Ent))
	})
}

func TestStripeProviderUnreachable(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	p, err := billing.NewStripeProvider(billing.StripeConfig{SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:1"}, db.Ent)
	require.NoError(t, err)
	_, err = p.Subscribe(context.Background(), request("signup-down", billing.PMCardVisa))
	require.Error(t, err)
	require.Equal(t, tenantd.EINTERNAL, tenantd.ErrorCode(err))
	require.Empty(t, charges(t, db.Ent))
}

func TestNewStripeProviderNeedsKey(t *testing.T) {
	_, err := billing.NewStripeProvider(billing.StripeConfig{}, nil)
	require.Error(t, err)
}
