package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestReplicasMigrateTogether starts four "replicas" migrating one empty
// PostgreSQL database at once: the advisory lock lets one apply everything
// and the others find nothing left to do.
func TestReplicasMigrateTogether(t *testing.T) {
	t.Parallel()
	url := storetest.NewEmptyPostgresDatabase(t)
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
		errs    []error
	)
	for range 4 {
		wg.Go(func() {
			res, err := store.Migrate(ctx, store.Options{DatabaseURL: url, OwnerURL: storetest.OwnerURL(url), MaxConns: 3})
			if err == nil {
				var db *store.DB
				if db, err = store.Open(ctx, store.Options{DatabaseURL: url, MaxConns: 3}); err == nil {
					err = plans.Seed(ctx, db.Ent)
					db.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if len(res.Schema) > 0 {
				applied++
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, 1, applied, "exactly one replica applies the migrations")

	db, err := store.Open(ctx, store.Options{DatabaseURL: url})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.MigrationsCurrent(ctx))
	n, err := db.Ent.Plan.Query().Count(tenantd.SystemContext(ctx))
	require.NoError(t, err)
	require.Equal(t, 4, n, "plans seeded once")
}

func TestMigrationsCurrentReportsPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	defer db.Close()
	require.ErrorContains(t, db.MigrationsCurrent(ctx), "pending")
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, db.MigrationsCurrent(ctx))
	res, err := db.Migrate(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Schema)
	require.Empty(t, res.River)
}

// TestTransactionSharedWithRollback checks that a failure after writing
// rolls everything back.
func TestTransactionSharedWithRollback(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := tenantd.SystemContext(context.Background())
		boom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Ent.AdminToken.Create().SetRole("ADMIN").SetName("x").SetPrefix("p").SetSecretHash("h").Save(ctx)
			require.NoError(t, err)
			return boom
		})
		require.ErrorIs(t, err, boom)
		n, err := db.Ent.AdminToken.Query().Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
