package billing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// The conflict path of record, which concurrent Subscribe calls reach when
// they all miss the ledger lookup, taken deterministically.
func TestRecordConflict(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first := ent.Charge{Provider: ProviderTest, IdempotencyKey: "k1", CustomerID: "cus_1", SubscriptionID: "sub_1", PlanKey: "pro", AmountCents: 9900}
		c, existed, err := record(ctx, db.Ent, first)
		require.NoError(t, err)
		require.False(t, existed)
		require.Equal(t, "sub_1", c.SubscriptionID)

		second := first
		second.CustomerID, second.SubscriptionID = "cus_2", "sub_2"
		c, existed, err = record(ctx, db.Ent, second)
		require.NoError(t, err)
		require.True(t, existed)
		require.Equal(t, "cus_1", c.CustomerID)
		require.Equal(t, "sub_1", c.SubscriptionID)

		c, err = recorded(ctx, db.Ent, "k2")
		require.NoError(t, err)
		require.Nil(t, c)
	})
}
