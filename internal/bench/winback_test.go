package bench_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/winback"
)

// BenchmarkWinBackSweep measures the win-back sweep ((*winback.Service).Sweep)
// over a million tenants, on both stores: one ACTIVE campaign (segment:
// canceled within 90 days, plans starter and pro; one step, afterDays 0),
// 10,000 tenants due for its step, and then the sweep right after, with
// none due.
//
// The tenants are bulk-loaded (loadWinBack, one INSERT … SELECT) after the
// campaign is created, relative to its created_at C (taken from the
// service's fake clock, which is advanced to "now" once the rows are in):
//
//   - 10,000 due: CANCELED at C+2 s, C+3 s, … (one a second), on starter or
//     pro, with an email and a signing key (key_sets seeded, the steady
//     state);
//   - n/100 canceled too recently: CANCELED 30 s before now, inside the
//     sweep's one-minute settle, so not due yet;
//   - n/10 old cancellations: CANCELED 2 minutes to 89 days before C, so
//     before the step's watermark (a campaign does not mail those);
//   - the rest ACTIVE.
//
// now is C + 10,000 s + 1 h. The figures: ms/sweep and mails/s of the sweep
// that mails the 10,000 (each a win_back_messages row, an outbox mail and a
// River delivery job, 500 to a transaction), and ms/sweep-0-due of the next
// sweep, which finds nothing. After each sweep the rows are counted: exactly
// 10,000 messages, outbox mails and jobs, then none more. Between rounds the
// messages, mails, jobs and the campaign's progress are deleted.
//
// The log has the due query's plan on each store (EXPLAIN ANALYZE on
// PostgreSQL; on SQLite EXPLAIN QUERY PLAN and the query's time) as the
// sweep issues it, for the first page (the watermark at the campaign's
// creation, the whole backlog ahead) and where the 0-due sweep finds it,
// on PostgreSQL also as a generic plan (what a statement pgx prepared and
// ran five times may settle on). It also has
// the mailing sweep's page times and five more 0-due sweeps.
//
// TENANTD_BENCH_WINBACK_TENANTS sets how many tenants (default 1,000,000);
// the due ones are 10,000 or a quarter of them if fewer.
func BenchmarkWinBackSweep(b *testing.B) {
	n := countTenants
	if v := os.Getenv("TENANTD_BENCH_WINBACK_TENANTS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	pop := winBackPopulation{n: n, due: min(winBackDue, n/4), recent: n / 100, old: n / 10}
	for _, kind := range storetest.Kinds(b) {
		b.Run(string(kind), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.New(b, kind)
			pages := &pageTimes{Handler: slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})}
			logger := slog.New(pages)
			jobs, err := river.NewClient(db.RiverDriver(), &river.Config{Logger: logger})
			require.NoError(b, err)
			clock := clockwork.NewFakeClockAt(time.Now().UTC())
			svc := winback.New(winback.Config{DB: db, Clock: clock, Jobs: jobs, PublicURL: func() string { return "http://localhost:8080" }, Logger: logger})
			camp, err := svc.Create(ctx, winback.NewCampaign{
				Name:    "Bench win-back",
				Segment: tenantd.WinBackSegment{CanceledWithinDays: 90, Plans: []string{plans.Starter, plans.Pro}},
				Steps: []tenantd.WinBackStep{{AfterDays: 0, Subject: "We miss you, {{tenantName}}",
					Body: "Hello {{tenantName}},\n\ncome back: {{reactivateUrl}}\n\nNo more of these: {{unsubscribeUrl}}\n"}},
				Actor: lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "admin:bench"},
			})
			require.NoError(b, err)

			pop.base = camp.CreatedAt.UTC().Truncate(time.Second).Add(2 * time.Second)
			pop.now = pop.base.Add(time.Duration(pop.due)*time.Second + time.Hour)
			loadWinBack(b, db, pop)
			clock.Advance(pop.now.Sub(clock.Now()))

			// The first page's read, the whole backlog ahead of the
			// watermark (the campaign's creation less the settle minute).
			logDuePlans(b, db, pop, "at the campaign's creation (first page)", camp.CreatedAt.Add(-time.Minute), uuid.Nil)

			var sweeps, sweeps0 time.Duration
			var mailed int
			for b.Loop() {
				pages.reset()
				t0 := time.Now()
				sent, err := svc.Sweep(ctx)
				took := time.Since(t0)
				require.NoError(b, err)
				t1 := time.Now()
				again, err := svc.Sweep(ctx)
				took0 := time.Since(t1)
				require.NoError(b, err)

				b.StopTimer()
				require.Equal(b, pop.due, sent, "mails enqueued by the sweep")
				require.Zero(b, again, "the next sweep mails nobody")
				checkWinBackRows(b, db, camp.ID, pop.due)
				sweeps += took
				sweeps0 += took0
				mailed += sent
				b.Logf("%s: %d due of %d tenants: the sweep mailed them in %s (%.0f mails/s); the next one, none due, took %s",
					kind, pop.due, pop.n, took.Round(time.Millisecond), float64(sent)/took.Seconds(), took0.Round(time.Microsecond))
				prog, err := db.Ent.WinBackCampaign.Get(sysCtx, camp.ID)
				require.NoError(b, err)
				require.Len(b, prog.Progress, 1)
				logDuePlans(b, db, pop, "past the last due tenant (the 0-due sweep)", prog.Progress[0].WatermarkAt, prog.Progress[0].WatermarkID)
				b.Logf("%s: the mailing sweep's pages of %d (from the service's \"win-back step sent\" log): %s", kind, 500, pages.summary(t0))
				var more []string
				for range 5 {
					t := time.Now()
					again, err := svc.Sweep(ctx)
					require.NoError(b, err)
					require.Zero(b, again)
					more = append(more, time.Since(t).Round(time.Microsecond).String())
				}
				b.Logf("%s: five more sweeps with none due: %s", kind, strings.Join(more, ", "))
				resetWinBack(b, db, camp.ID)
				b.StartTimer()
			}
			rounds := float64(b.N)
			b.ReportMetric(ms(sweeps)/rounds, "ms/sweep")
			b.ReportMetric(float64(mailed)/sweeps.Seconds(), "mails/s")
			b.ReportMetric(ms(sweeps0)/rounds, "ms/sweep-0-due")
		})
	}
}

const winBackDue = 10_000

// winBackPopulation is what loadWinBack loads: n tenants, the first due
// canceled one a second from base, then recent canceled 30 s before now,
// then old canceled before base, then ACTIVE.
type winBackPopulation struct {
	n, due, recent, old int
	base, now           time.Time
}

// loadWinBack bulk-loads the tenants of p with one INSERT … SELECT (the
// rows bypass lifecycle: no history, which the sweep does not read) and
// signing keys for the canceled ones after base, then analyzes.
func loadWinBack(b *testing.B, db *store.DB, p winBackPopulation) {
	b.Helper()
	ctx := context.Background()
	nowOff := int(p.now.Sub(p.base) / time.Second)
	start := time.Now()
	var q string
	args := []any{p.n, p.due, p.recent, p.old, nowOff,
		plans.ID(plans.Free).String(), plans.ID(plans.Starter).String(), plans.ID(plans.Pro).String(), plans.ID(plans.Enterprise).String()}
	// Seconds from base per class: the due ones one a second; the recent
	// ones 30 s before now; the old ones 2 min to 89 days before base;
	// the ACTIVE ones an hour to 90 days before base.
	const classes = `
		CASE WHEN g < p.due THEN 'CANCELED' WHEN g < p.due + p.recent + p.old THEN 'CANCELED' ELSE 'ACTIVE' END AS state,
		CASE WHEN g < p.due THEN g
			WHEN g < p.due + p.recent THEN p.now_off - 30
			WHEN g < p.due + p.recent + p.old THEN -120 - (g % (89 * 86400))
			ELSE -3600 - (g % (90 * 86400)) END AS off,
		CASE WHEN g < p.due THEN (CASE WHEN g % 2 = 0 THEN p.starter ELSE p.pro END)
			WHEN g % 4 = 0 THEN p.free WHEN g % 4 = 1 THEN p.starter WHEN g % 4 = 2 THEN p.pro ELSE p.enterprise END AS plan_id`
	if db.IsPostgres() {
		q = `
		WITH p AS (SELECT $1::int AS n, $2::int AS due, $3::int AS recent, $4::int AS old, $5::int AS now_off,
				$6::uuid AS free, $7::uuid AS starter, $8::uuid AS pro, $9::uuid AS enterprise, $10::timestamptz AS base),
		c AS (SELECT g, p.base,` + classes + `
			FROM p, generate_series(0, (SELECT n FROM p) - 1) AS g)
		INSERT INTO tenants (id, created_at, updated_at, name, slug, slug_hash, email, state,
			state_changed_at, plan_id, history_seq, history_head)
		SELECT gen_random_uuid(), c.base + make_interval(secs => c.off), c.base + make_interval(secs => c.off),
			'Win-back tenant ' || g, 'winback-' || g, encode(sha256(convert_to('winback-' || g, 'UTF8')), 'hex'),
			'winback-' || g || '@example.com', c.state, c.base + make_interval(secs => c.off), c.plan_id, 0, ''
		FROM c`
		args = append(args, p.base)
	} else {
		// SQLite has no generate_series here: a recursive CTE counts. The
		// times are written as modernc.org/sqlite binds a whole-second UTC
		// time.Time (its String(): "2006-01-02 15:04:05 +0000 UTC"), so
		// they compare as text with the sweep's parameters exactly as the
		// rows tenantd writes; the ids as uuid.UUID's text.
		q = `
		WITH RECURSIVE p(n, due, recent, old, now_off, free, starter, pro, enterprise, base) AS (
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
		s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g + 1 < (SELECT n FROM p)),
		c AS (SELECT g, p.base,` + classes + `
			FROM p, s),
		t AS (SELECT g, state, plan_id, strftime('%Y-%m-%d %H:%M:%S', base, off || ' seconds') || ' +0000 UTC' AS at,
			lower(hex(randomblob(16))) AS h FROM c)
		INSERT INTO tenants (id, created_at, updated_at, name, slug, slug_hash, email, state,
			state_changed_at, plan_id, history_seq, history_head)
		SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
			at, at, 'Win-back tenant ' || g, 'winback-' || g, lower(hex(randomblob(32))),
			'winback-' || g || '@example.com', state, at, plan_id, 0, ''
		FROM t`
		args = append(args, p.base.Format(time.DateTime))
	}
	res, err := db.SQL.ExecContext(ctx, q, args...)
	require.NoError(b, err)
	inserted, err := res.RowsAffected()
	require.NoError(b, err)
	require.EqualValues(b, p.n, inserted)

	// Signing keys for the canceled tenants from base on: the due ones
	// and the recent ones.
	keys := `INSERT INTO key_sets (id, created_at, updated_at, tenant_id, signing_key)
		SELECT gen_random_uuid(), now(), now(), id, decode(md5(random()::text) || md5(random()::text), 'hex')
		FROM tenants WHERE state = 'CANCELED' AND state_changed_at >= $1`
	keyArgs := []any{p.base}
	if !db.IsPostgres() {
		keys = `INSERT INTO key_sets (id, created_at, updated_at, tenant_id, signing_key)
			SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21),
				at, at, id, randomblob(32)
			FROM (SELECT id, state_changed_at AS at, lower(hex(randomblob(16))) AS h FROM tenants
				WHERE state = 'CANCELED' AND state_changed_at >= ?)`
		keyArgs = []any{p.base}
	}
	res, err = db.SQL.ExecContext(ctx, keys, keyArgs...)
	require.NoError(b, err)
	withKeys, err := res.RowsAffected()
	require.NoError(b, err)
	require.EqualValues(b, p.due+p.recent, withKeys, "signing keys")
	// The seeded times are stored as tenantd's own writes are: a time.Time
	// parameter finds the first due tenant by equality.
	var first int
	require.NoError(b, db.SQL.QueryRowContext(ctx, rebind(db.IsPostgres(),
		`SELECT count(*) FROM tenants WHERE state = 'CANCELED' AND state_changed_at = ?`), p.base).Scan(&first))
	require.Equal(b, 1, first, "the first due tenant, found by a time.Time parameter")
	loaded := time.Since(start)

	if db.IsPostgres() {
		_, err = storetest.Owner(b, db).ExecContext(ctx, `VACUUM ANALYZE tenants, key_sets`)
	} else {
		_, err = db.SQL.ExecContext(ctx, `ANALYZE`)
	}
	require.NoError(b, err)
	b.Logf("loaded %d tenants (%d due, %d canceled within the settle minute, %d canceled before the campaign, %d active) and %d signing keys in %s, analyzed in %s",
		p.n, p.due, p.recent, p.old, p.n-p.due-p.recent-p.old, withKeys, loaded.Round(time.Millisecond), (time.Since(start) - loaded).Round(time.Millisecond))
}

// checkWinBackRows checks that the campaign has exactly want messages, and
// the outbox want win-back mails (with their links) and delivery jobs.
func checkWinBackRows(b *testing.B, db *store.DB, campaignID uuid.UUID, want int) {
	b.Helper()
	ctx := context.Background()
	count := func(q string, args ...any) int {
		var c int
		require.NoError(b, db.SQL.QueryRowContext(ctx, rebind(db.IsPostgres(), q), args...).Scan(&c))
		return c
	}
	require.Equal(b, want, count(`SELECT count(*) FROM win_back_messages WHERE campaign_id = ? AND step = 0`, campaignID), "win_back_messages")
	require.Equal(b, want, count(`SELECT count(DISTINCT tenant_id) FROM win_back_messages`), "tenants mailed")
	require.Equal(b, want, count(`SELECT count(*) FROM outbox_messages WHERE kind = 'winback'`), "outbox messages")
	require.Equal(b, want, count(`SELECT count(*) FROM outbox_messages`), "outbox messages of any kind")
	require.Equal(b, want, count(`SELECT count(*) FROM river_job WHERE kind = ?`, mail.DeliverKind), "delivery jobs")
	// Only the due tenants: canceled from base on, and on starter or pro.
	require.Equal(b, want, count(`SELECT count(*) FROM win_back_messages m JOIN tenants t ON t.id = m.tenant_id
		WHERE t.state = 'CANCELED' AND t.plan_id IN (?, ?)`, plans.ID(plans.Starter), plans.ID(plans.Pro)), "due tenants mailed")
	var body string
	require.NoError(b, db.SQL.QueryRowContext(ctx, `SELECT text_body FROM outbox_messages WHERE kind = 'winback' LIMIT 1`).Scan(&body))
	require.Contains(b, body, "Hello Win-back tenant ")
	require.Contains(b, body, "http://localhost:8080/#/reactivate?token=")
	require.Contains(b, body, "http://localhost:8080/#/unsubscribe?token=")
}

// resetWinBack takes the round's mails back so the next round starts from
// the same place: the campaign's watermarks at creation again.
func resetWinBack(b *testing.B, db *store.DB, campaignID uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	_, err := db.SQL.ExecContext(ctx, `DELETE FROM win_back_messages`)
	require.NoError(b, err)
	_, err = db.SQL.ExecContext(ctx, `DELETE FROM outbox_messages`)
	require.NoError(b, err)
	_, err = db.SQL.ExecContext(ctx, rebind(db.IsPostgres(), `DELETE FROM river_job WHERE kind = ?`), mail.DeliverKind)
	require.NoError(b, err)
	_, err = db.SQL.ExecContext(ctx, rebind(db.IsPostgres(), `UPDATE win_back_campaigns SET progress = NULL WHERE id = ?`), campaignID)
	require.NoError(b, err)
}

// logDuePlans logs how the due query of one page runs with the watermark
// at (wmAt, wmID) (where says where that is), written as the sweep issues
// it: the watermark both as the lower bound of the index range and in the
// OR that breaks ties on id.
func logDuePlans(b *testing.B, db *store.DB, p winBackPopulation, where string, wmAt time.Time, wmID uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	cutoff := p.now.Add(-time.Minute)
	const cols = `id, created_at, updated_at, name, slug, slug_hash, email, state, state_changed_at, plan_id`
	q := `SELECT ` + cols + ` FROM tenants WHERE state = ? AND state_changed_at <= ? AND state_changed_at >= ?
		AND (state_changed_at > ? OR (state_changed_at = ? AND id > ?)) ORDER BY state_changed_at, id LIMIT 500`
	args := []any{string(tenantd.StateCanceled), cutoff, wmAt, wmAt, wmAt, wmID}
	if db.IsPostgres() {
		b.Logf("due query, watermark %s:\n%s", where, explainAnalyze(b, db, rebind(true, q), args...))
		b.Logf("due query, watermark %s, generic plan (a prepared statement after five runs, as pgx's statement cache leaves it):\n%s",
			where, explainGeneric(b, db, rebind(true, q), args...))
		return
	}
	plan := explainSQLite(b, db, q, args...)
	t0 := time.Now()
	rows, err := db.SQL.QueryContext(ctx, q, args...)
	require.NoError(b, err)
	found := 0
	for rows.Next() {
		found++
	}
	require.NoError(b, rows.Err())
	rows.Close()
	b.Logf("due query, watermark %s: %d rows in %s; plan: %s", where, found, time.Since(t0).Round(time.Microsecond), plan)
}

// explainAnalyze runs EXPLAIN (ANALYZE, BUFFERS) of q on PostgreSQL.
func explainAnalyze(b *testing.B, db *store.DB, q string, args ...any) string {
	return textRows(b, db.SQL, "EXPLAIN (ANALYZE, BUFFERS) "+q, args...)
}

// explainGeneric runs EXPLAIN (ANALYZE, BUFFERS) of q as a prepared
// statement with plan_cache_mode = force_generic_plan, on one connection
// of its own: the plan PostgreSQL settles on for a statement prepared once
// and run many times.
func explainGeneric(b *testing.B, db *store.DB, q string, args ...any) string {
	b.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	require.NoError(b, err)
	defer conn.Close()
	types := make([]string, len(args))
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			types[i], lits[i] = "text", "'"+v+"'"
		case time.Time:
			types[i], lits[i] = "timestamptz", "'"+v.UTC().Format(time.RFC3339Nano)+"'"
		case uuid.UUID:
			types[i], lits[i] = "uuid", "'"+v.String()+"'"
		default:
			b.Fatalf("explainGeneric: argument %d is a %T", i, a)
		}
	}
	_, err = conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(b, err)
	defer func() { _, _ = conn.ExecContext(ctx, `RESET plan_cache_mode`) }()
	_, err = conn.ExecContext(ctx, "PREPARE bench_winback_due("+strings.Join(types, ", ")+") AS "+q)
	require.NoError(b, err)
	defer func() { _, _ = conn.ExecContext(ctx, `DEALLOCATE bench_winback_due`) }()
	return textRows(b, conn, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_winback_due("+strings.Join(lits, ", ")+")")
}

// pageTimes is the benchmark's log handler: it passes records on and
// notes when each page of the sweep committed ("win-back step sent").
type pageTimes struct {
	slog.Handler
	mu sync.Mutex
	at []time.Time
}

func (h *pageTimes) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo
}

func (h *pageTimes) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "win-back step sent" {
		h.mu.Lock()
		h.at = append(h.at, time.Now())
		h.mu.Unlock()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *pageTimes) reset() {
	h.mu.Lock()
	h.at = nil
	h.mu.Unlock()
}

// summary says how long each page took from the previous one (the first
// from start): the first three, the last three and the mean.
func (h *pageTimes) summary(start time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.at) == 0 {
		return "no pages"
	}
	d := make([]string, len(h.at))
	prev := start
	for i, t := range h.at {
		d[i] = t.Sub(prev).Round(time.Millisecond).String()
		prev = t
	}
	shown := strings.Join(d, " ")
	if len(d) > 6 {
		shown = strings.Join(d[:3], " ") + " … " + strings.Join(d[len(d)-3:], " ")
	}
	mean := h.at[len(h.at)-1].Sub(start) / time.Duration(len(h.at))
	return fmt.Sprintf("%d pages: %s (mean %s)", len(h.at), shown, mean.Round(time.Millisecond))
}

// explainSQLite returns SQLite's query plan for q, one step per line.
func explainSQLite(b *testing.B, db *store.DB, q string, args ...any) string {
	b.Helper()
	rows, err := db.SQL.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(b, err)
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		require.NoError(b, rows.Scan(&id, &parent, &notUsed, &detail))
		steps = append(steps, detail)
	}
	require.NoError(b, rows.Err())
	return strings.Join(steps, "; ")
}
