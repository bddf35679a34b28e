package bench_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
)

var sysCtx = tenantd.SystemContext(context.Background())

// adminActor causes the benchmarked suspends and resumes.
var adminActor = lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "admin:bench"}

const benchReason = "bench"

// rebind turns the ? placeholders of q into PostgreSQL's $n when pg is set.
// The queries of this package have no ? inside string literals.
func rebind(pg bool, q string) string {
	if !pg {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// textRows runs q and returns the rows of its one text column, a line
// each: an EXPLAIN's plan.
func textRows(b testing.TB, db interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, q string, args ...any) string {
	b.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	require.NoError(b, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		require.NoError(b, rows.Scan(&l))
		lines = append(lines, l)
	}
	require.NoError(b, rows.Err())
	return strings.Join(lines, "\n")
}

// signup creates a PENDING tenant through lifecycle, as the API's signup does.
func signup(tb testing.TB, db *store.DB, m *lifecycle.Machine, slug string) uuid.UUID {
	tb.Helper()
	sum := sha256.Sum256([]byte(slug))
	var id uuid.UUID
	err := db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
		res, err := m.CreateTx(ctx, tx, lifecycle.NewTenant{
			Name: "Bench " + slug, Slug: slug, SlugHash: hex.EncodeToString(sum[:]),
			Email: slug + "@example.com", PlanID: plans.ID(plans.Free),
			Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: "bench"},
		})
		if err == nil {
			id = res.Tenant.ID
		}
		return err
	})
	require.NoError(tb, err)
	return id
}

// fire fires ev through lifecycle with a trigger the table allows.
func fire(tb testing.TB, m *lifecycle.Machine, id uuid.UUID, ev tenantd.Event, by tenantd.Trigger) {
	tb.Helper()
	_, err := m.Fire(sysCtx, lifecycle.Request{TenantID: id, Event: ev, Reason: benchReason,
		Actor: lifecycle.Actor{By: by, Name: "bench"}})
	require.NoError(tb, err, "%s tenant %s", ev, id)
}

// activeTenants creates n ACTIVE tenants (signup, provision, activate: three
// history rows each).
func activeTenants(tb testing.TB, db *store.DB, n int, prefix string) []uuid.UUID {
	tb.Helper()
	m := lifecycle.New(lifecycle.Config{DB: db})
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = signup(tb, db, m, fmt.Sprintf("%s-%d-%s", prefix, i, uuid.NewString()[:8]))
		fire(tb, m, ids[i], tenantd.EventProvision, tenantd.TriggerSystem)
		fire(tb, m, ids[i], tenantd.EventActivate, tenantd.TriggerSystem)
	}
	return ids
}

// historyRows counts the history rows of the tenants ids.
func historyRows(tb testing.TB, db *store.DB, ids []uuid.UUID) int {
	tb.Helper()
	n, err := db.Ent.StateTransition.Query().Where(statetransition.TenantIDIn(ids...)).Count(sysCtx)
	require.NoError(tb, err)
	return n
}

// audit runs lifecycle.Verify over the whole database: every hash chain
// verifies and every state counter agrees with the tenants table.
func audit(tb testing.TB, db *store.DB) {
	tb.Helper()
	rep, err := lifecycle.Verify(context.Background(), db.Ent, nil)
	require.NoError(tb, err)
	require.True(tb, rep.OK(), "audit: break %v, count mismatches %v", rep.Break, rep.CountMismatches)
}

// reportMs reports the mean time of one op in milliseconds beside ns/op.
func reportMs(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
}
