package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/plan"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail/mailpittest"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestWinBackMailsOnceAcrossReplicas: three tenantd processes on one
// PostgreSQL, all sweeping every second, with a two-step win-back campaign
// and 40 canceled tenants due for both steps: Mailpit receives exactly one
// mail per tenant and step — 80, none twice — and the database holds one
// message row per (campaign, step, tenant).
func TestWinBackMailsOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewPostgresDatabase(t)
	mp := mailpittest.Start(t)
	const token = "tda_winback_replicas_admin_token_0000"
	common := []string{"DATABASE_URL=" + dbURL, "TENANTD_OWNER_DATABASE_URL=" + storetest.OwnerURL(dbURL),
		"TENANTD_ADMIN_TOKEN=" + token, "TENANTD_LOG_LEVEL=warn", "TENANTD_SWEEP_INTERVAL=1s", "SMTP_URL=" + mp.SMTPURL()}
	first := freeAddr(t)
	startProcess(t, append([]string{"TENANTD_ADDR=" + first, "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
	waitHealthy(t, "http://"+first) // migrated, plans seeded

	db, err := store.Open(context.Background(), store.Options{DatabaseURL: storetest.OwnerURL(dbURL)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	sys := tenantd.SystemContext(context.Background())

	// The campaign was made three days ago and the tenants canceled 26
	// hours ago: both steps (day 0 and day 1) are due for each.
	now := time.Now().UTC()
	camp, err := db.Ent.WinBackCampaign.Create().SetName("replicas").SetCreatedBy("test").SetCreatedAt(now.Add(-72 * time.Hour)).
		SetSegment(tenantd.WinBackSegment{CanceledWithinDays: 30, Plans: []string{"starter"}}).
		SetSteps([]tenantd.WinBackStep{
			{AfterDays: 0, Subject: "step 1 for {{tenantName}}", Body: "Come back: {{reactivateUrl}}"},
			{AfterDays: 1, Subject: "step 2 for {{tenantName}}", Body: "Still here: {{reactivateUrl}} {{unsubscribeUrl}}"},
		}).Save(sys)
	require.NoError(t, err)
	const due = 40
	canceledTenants(t, db, due, now.Add(-26*time.Hour))

	for range 2 {
		addr := freeAddr(t)
		startProcess(t, append([]string{"TENANTD_ADDR=" + addr, "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
		waitHealthy(t, "http://"+addr)
	}
	msgs := mp.WaitFor(t, 2*due, 2*time.Minute)
	// The sweeps go on; give them a few more rounds to (wrongly) send more.
	time.Sleep(3 * time.Second) // real processes on the real clock: waiting for mails that must not come
	msgs = mp.Messages(t)
	require.Len(t, msgs, 2*due, "one mail per tenant and step")
	seen := map[string]bool{}
	for _, m := range msgs {
		key := m.To[0].Address + " " + m.Subject[:6]
		require.False(t, seen[key], "%s got %q twice", m.To[0].Address, m.Subject)
		seen[key] = true
	}
	n, err := db.Ent.WinBackMessage.Query().Where(winbackmessage.CampaignID(camp.ID)).Count(sys)
	require.NoError(t, err)
	require.Equal(t, 2*due, n)
}

// canceledTenants makes n ACTIVE starter tenants and cancels them at the
// given time (a lifecycle on a fake clock stamps it).
func canceledTenants(t *testing.T, db *store.DB, n int, at time.Time) {
	t.Helper()
	ctx := tenantd.SystemContext(context.Background())
	m := lifecycle.New(lifecycle.Config{DB: db, Clock: clockwork.NewFakeClockAt(at)})
	p, err := db.Ent.Plan.Query().Where(plan.Key("starter")).Only(ctx)
	require.NoError(t, err)
	system := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"}
	for i := range n {
		slug := fmt.Sprintf("churned-%03d", i)
		sum := sha256.Sum256([]byte(slug))
		var res *lifecycle.Result
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			res, err = m.CreateTx(ctx, tx, lifecycle.NewTenant{Name: "Churned " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
				Email: slug + "@churn.example", PlanID: p.ID, Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "test"}})
			return err
		}))
		for _, ev := range []tenantd.Event{tenantd.EventProvision, tenantd.EventActivate, tenantd.EventCancel} {
			_, err := m.Fire(ctx, lifecycle.Request{TenantID: res.Tenant.ID, Event: ev, Actor: system})
			require.NoError(t, err)
		}
	}
}
