package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestPurgeExactlyOnceAcrossReplicas: three tenantd processes on one
// PostgreSQL sweep every second while 100 tenants are past their retention
// window: each tenant is purged exactly once — one PURGE operation, one
// purge transition with its certificate.
func TestPurgeExactlyOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewPostgresDatabase(t)
	const token = "tda_purge_replicas_admin_token_000000"
	common := []string{"DATABASE_URL=" + dbURL, "TENANTD_OWNER_DATABASE_URL=" + storetest.OwnerURL(dbURL),
		"TENANTD_ADMIN_TOKEN=" + token, "TENANTD_LOG_LEVEL=warn", "TENANTD_SWEEP_INTERVAL=1s"}
	first := freeAddr(t)
	startProcess(t, append([]string{"TENANTD_ADDR=" + first, "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
	waitHealthy(t, "http://"+first) // migrated, plans seeded

	const due = 100
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: storetest.OwnerURL(dbURL)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ids := dueTenants(t, db, due, "due")

	for range 2 {
		addr := freeAddr(t)
		startProcess(t, append([]string{"TENANTD_ADDR=" + addr, "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
		waitHealthy(t, "http://"+addr)
	}
	sys := tenantd.SystemContext(context.Background())
	require.Eventually(t, func() bool {
		n, err := db.Ent.Tenant.Query().Where(tenant.IDIn(ids...), tenant.StateEQ(tenantd.StatePurged)).Count(sys)
		return err == nil && n == due
	}, 2*time.Minute, 100*time.Millisecond, "every due tenant is purged")
	// The replicas go on sweeping — a tenant due later is purged too — and
	// purge none of the others again.
	late := dueTenants(t, db, 1, "late")
	require.Eventually(t, func() bool {
		n, err := db.Ent.Tenant.Query().Where(tenant.IDIn(late...), tenant.StateEQ(tenantd.StatePurged)).Count(sys)
		return err == nil && n == 1
	}, time.Minute, 100*time.Millisecond, "the late tenant is purged")
	ids = append(ids, late...)

	for _, id := range ids {
		ops, err := db.Ent.Operation.Query().Where(operation.TenantID(id), operation.KindEQ(tenantd.OpPurge)).All(sys)
		require.NoError(t, err)
		require.Len(t, ops, 1, "tenant %s: one PURGE operation", id)
		require.Equal(t, tenantd.OpSucceeded, ops[0].Status)
		purges, err := db.Ent.StateTransition.Query().Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventPurge)).All(sys)
		require.NoError(t, err)
		require.Len(t, purges, 1, "tenant %s: one purge transition, one certificate", id)
		cert := purges[0].Metadata["purgeCertificate"].(map[string]any)
		require.Equal(t, ops[0].ID.String(), cert["operation"])
	}
	rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Break)
}

// dueTenants makes n tenants whose retention window ended an hour ago:
// signed up, failed provisioning, deletion requested.
func dueTenants(t *testing.T, db *store.DB, n int, prefix string) []uuid.UUID {
	t.Helper()
	ctx := tenantd.SystemContext(context.Background())
	m := lifecycle.New(lifecycle.Config{DB: db})
	p, err := db.Ent.Plan.Query().Where(plan.Key("starter")).Only(ctx)
	require.NoError(t, err)
	admin := lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "test"}
	system := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}
	past := time.Now().Add(-time.Hour)
	ids := make([]uuid.UUID, 0, n)
	for i := range n {
		slug := fmt.Sprintf("%s-%03d", prefix, i)
		sum := sha256.Sum256([]byte(slug))
		var res *lifecycle.Result
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			res, err = m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: "Due " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
				Email: slug + "@due.example", PlanID: p.ID, Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
			return err
		}))
		id := res.Tenant.ID
		for _, ev := range []struct {
			ev    tenantd.Event
			actor lifecycle.Actor
		}{{tenantd.EventProvision, system}, {tenantd.EventFail, system}, {tenantd.EventRequestDeletion, admin}} {
			req := lifecycle.Request{TenantID: id, Event: ev.ev, Actor: ev.actor}
			if ev.ev == tenantd.EventRequestDeletion {
				req.Update = func(u *ent.TenantUpdateOne) { u.SetPurgeAfter(past) }
			}
			_, err := m.Fire(ctx, req)
			require.NoError(t, err)
		}
		ids = append(ids, id)
	}
	return ids
}
