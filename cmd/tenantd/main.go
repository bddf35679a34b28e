// Command tenantd is the tenant lifecycle control plane: a GraphQL API over
// an audited tenant state machine. Run `tenantd --help` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/admintoken"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/load"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `tenantd — the tenant lifecycle control plane.

Usage:
  tenantd [serve] [flags]             run the API server (the default command)
  tenantd migrate [flags]             apply database migrations, then exit
  tenantd token create --role R       create an admin or partner token and print it once
  tenantd token list | revoke         list admin tokens, or revoke one (--token <prefix or id>)
  tenantd audit verify [flags]        verify every tenant's hash-chained history
  tenantd check [flags]               run the readiness checks; exit 1 if one fails
  tenantd import ARCHIVE [--slug s]   make a new tenant from a data export archive
  tenantd bench signup [flags]        load test: signups followed live to ACTIVE
  tenantd bench subscriptions [flags] load test: 10,000 held subscriptions and event delivery

Run "tenantd <command> --help" for a command's flags.
`

// command is one CLI command.
type command struct {
	name  string
	about string
	// args names the command's arguments ("ARCHIVE"); empty: it takes none.
	args  string
	flags func(fs *flag.FlagSet) // adds the command's own flags
	run   func(ctx context.Context, c *cli) int
}

// cli is what a command runs with.
type cli struct {
	cfg    *config.Config
	fs     *flag.FlagSet
	args   []string // the command's arguments, flags aside
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

var commands = []command{
	{name: "serve", about: "Run the API server until SIGINT or SIGTERM.", run: serve},
	{name: "migrate", about: "Apply tenantd's and River's migrations, then exit.", run: migrate},
	{name: "token create", about: "Create an admin or partner token and print it once.",
		flags: func(fs *flag.FlagSet) {
			fs.String("role", "", "admin (read and write) or partner (read-only); required")
			fs.String("name", "", "a name to tell the token apart")
		}, run: tokenCreate},
	{name: "token list", about: "List the admin and partner tokens (prefixes only: secrets are never stored).", run: tokenList},
	{name: "token revoke", about: "Revoke an admin or partner token by its id or display prefix (tda_…).",
		flags: func(fs *flag.FlagSet) {
			fs.String("token", "", "the token's id or display prefix, as `tenantd token list` shows it; required")
		}, run: tokenRevoke},
	{name: "audit verify", about: "Walk every tenant's history chain; exit 1 and name the first broken row.", run: auditVerify},
	{name: "check", about: "Run the four readiness checks on a running tenantd (runReadinessChecks) and print them;\nexit 0 when none fails, 1 otherwise.",
		flags: func(fs *flag.FlagSet) {
			fs.String("url", "", "tenantd to check (default http://<TENANTD_ADDR>)")
			fs.String("token", "", "admin token (default TENANTD_ADMIN_TOKEN)")
			fs.Bool("json", false, "print the result as JSON")
		}, run: check},
	{name: "import", args: "ARCHIVE", about: "Make a new tenant from a data export archive (a ZIP that requestDataExport made), ACTIVE on the\n" +
		"archive's plan with its documents, query log and milestones, and print its new owner API key once.\n" +
		"Every checksum of the archive's manifest is verified first: a tampered or truncated archive is refused,\n" +
		"naming the file, and nothing is written.",
		flags: func(fs *flag.FlagSet) {
			fs.String("slug", "", "the new tenant's slug (default the archive's; needed when that one is taken)")
		}, run: importArchive},
	{name: "bench signup", about: "Drive signups against a running tenantd, follow each to ACTIVE over a subscription,\nand report signup → ACTIVE latency (p50/p95/p99) and sustained signups per second.",
		flags: func(fs *flag.FlagSet) {
			fs.String("url", "", "tenantd to drive (default http://<TENANTD_ADDR>)")
			fs.Float64("rate", 20, "signups started per second")
			fs.Duration("duration", 30*time.Second, "how long to start signups")
			fs.String("plans", "starter,pro", "comma-separated plans, run one after the other (starter: pool, pro: silo)")
			fs.String("token", "", "admin token: follow operations over one shared WebSocket (default: one per signup, with its new API key)")
			fs.Bool("json", false, "print the reports as JSON")
		}, run: benchSignup},
	{name: "bench subscriptions", about: "Hold many idle subscriptions on a running tenantd, report the server memory they\ntake, then fire transitions and report event delivery latency.",
		flags: func(fs *flag.FlagSet) {
			fs.String("url", "", "tenantd to drive (default http://<TENANTD_ADDR>)")
			fs.String("token", "", "admin token (default TENANTD_ADMIN_TOKEN)")
			fs.Int("subscriptions", 10_000, "subscriptions to hold")
			fs.Int("per-conn", 100, "subscriptions per WebSocket")
			fs.Int("tenants", 100, "tenants the subscriptions are spread over")
			fs.Int("events", 200, "transitions to fire while they are held")
			fs.Duration("interval", 50*time.Millisecond, "time between transitions")
			fs.Bool("json", false, "print the report as JSON")
		}, run: benchSubscriptions},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, rest, err := pick(args)
	if err != nil {
		fmt.Fprintf(stderr, "tenantd: %v\n\n%s", err, usage)
		return 2
	}
	fs := config.FlagSet("tenantd " + cmd.name)
	fs.SetOutput(stderr)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: tenantd %s [flags]\n\n%s\n\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.about)
		if cmd.flags != nil {
			own := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
			own.SetOutput(stdout)
			cmd.flags(own)
			fmt.Fprintln(stdout, "Flags:")
			own.PrintDefaults()
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, config.Usage())
	}
	var positional []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		// Arguments may come before flags: parse on after each one.
		if cmd.args == "" || fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tenantd %s: unexpected argument %q\n", cmd.name, fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(os.Environ(), fs)
	if err != nil {
		fmt.Fprintf(stderr, "tenantd: configuration: %v\n", err)
		return 2
	}
	return cmd.run(ctx, &cli{cfg: cfg, fs: fs, args: positional, log: newLogger(cfg, stderr), stdout: stdout, stderr: stderr})
}

// pick finds the command named by the leading words of args.
func pick(args []string) (command, []string, error) {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	if len(words) == 0 {
		return commands[0], args, nil
	}
	for _, c := range commands {
		n := len(strings.Fields(c.name))
		if len(words) >= n && strings.Join(words[:n], " ") == c.name {
			return c, args[n:], nil
		}
	}
	return command{}, nil, fmt.Errorf("unknown command %q", strings.Join(words, " "))
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, c *cli) int {
	c.log.Info("starting tenantd", "config", c.cfg)
	opts, opened, err := crashPoint(c.cfg)
	if err != nil {
		c.log.Error("start-up failed", "err", err)
		return 1
	}
	srv, err := server.Open(ctx, c.cfg, c.log, opts...)
	if err != nil {
		c.log.Error("start-up failed", "err", err)
		return 1
	}
	opened(srv)
	if err := srv.Start(ctx); err != nil {
		c.log.Error("start-up failed", "err", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	if srv.AdminToken != "" {
		fmt.Fprintf(c.stdout, "\n  tenantd is running at %s (development)\n  GraphiQL:    %s/graphiql\n  admin token: %s\n  (send it as: Authorization: Bearer %s)\n\n",
			srv.URL(), srv.URL(), srv.AdminToken, srv.AdminToken)
	}
	<-ctx.Done()
	c.log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		c.log.Error("shutdown", "err", err)
		return 1
	}
	c.log.Info("stopped")
	return 0
}

func openStore(ctx context.Context, c *cli) (*store.DB, error) {
	return store.Open(ctx, store.Options{DatabaseURL: c.cfg.DatabaseURL, DataDir: c.cfg.DataDir, Logger: c.log, MaxConns: 4})
}

func migrate(ctx context.Context, c *cli) int {
	res, err := store.Migrate(ctx, store.Options{DatabaseURL: c.cfg.DatabaseURL, OwnerURL: c.cfg.OwnerURL, DataDir: c.cfg.DataDir, Logger: c.log})
	if err != nil {
		c.log.Error("migrate", "err", err)
		return 1
	}
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("migrate", "err", err)
		return 1
	}
	defer db.Close()
	if err := plans.Seed(ctx, db.Ent); err != nil {
		c.log.Error("migrate", "err", err)
		return 1
	}
	if len(res.Schema)+len(res.River) == 0 {
		fmt.Fprintln(c.stdout, "migrations: already up to date")
		return 0
	}
	fmt.Fprintf(c.stdout, "migrations applied: tenantd %v, river %v\n", res.Schema, res.River)
	return 0
}

func tokenCreate(ctx context.Context, c *cli) int {
	role := strings.ToUpper(c.fs.Lookup("role").Value.String())
	if role != "ADMIN" && role != "PARTNER" {
		fmt.Fprintln(c.stderr, "tenantd token create: --role must be admin or partner")
		return 2
	}
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("token create", "err", err)
		return 1
	}
	defer db.Close()
	if err := db.MigrationsCurrent(ctx); err != nil {
		c.log.Error("token create", "err", err)
		return 1
	}
	secret, t, err := authService(db).CreateAdminToken(ctx, admintoken.Role(role), c.fs.Lookup("name").Value.String())
	if err != nil {
		c.log.Error("token create", "err", err)
		return 1
	}
	fmt.Fprintf(c.stderr, "created %s token %q (id %s); it is shown once:\n", role, t.Name, t.ID)
	fmt.Fprintln(c.stdout, secret)
	return 0
}

func auditVerify(ctx context.Context, c *cli) int {
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("audit verify", "err", err)
		return 1
	}
	defer db.Close()
	last := time.Now()
	rep, err := lifecycle.Verify(ctx, db.Ent, func(tenants, rows int) {
		if time.Since(last) > time.Second {
			fmt.Fprintf(c.stderr, "  … %d tenants, %d history rows verified\n", tenants, rows)
			last = time.Now()
		}
	})
	if err != nil {
		c.log.Error("audit verify", "err", err)
		return 1
	}
	if rep.Break != nil {
		fmt.Fprintf(c.stdout, "audit FAILED after %d tenants and %d rows\nfirst broken row: %s\n", rep.Tenants, rep.Rows, rep.Break)
		return 1
	}
	if len(rep.CountMismatches) > 0 {
		fmt.Fprintf(c.stdout, "every chain verifies (%d tenants, %d rows), but the state counters disagree with the tenants table:\n", rep.Tenants, rep.Rows)
		for s, m := range rep.CountMismatches {
			fmt.Fprintf(c.stdout, "  %s: counted %d, actual %d\n", s, m[0], m[1])
		}
		return 1
	}
	fmt.Fprintf(c.stdout, "audit OK: %d tenants, %d history rows, every chain verifies\n", rep.Tenants, rep.Rows)
	return 0
}

func flagString(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

func flagValue[T any](fs *flag.FlagSet, name string) T {
	return fs.Lookup(name).Value.(flag.Getter).Get().(T)
}

func benchURL(c *cli) string {
	if u := flagString(c.fs, "url"); u != "" {
		return strings.TrimSuffix(u, "/")
	}
	return "http://" + c.cfg.Addr
}

func printReport(c *cli, rep any) {
	if flagValue[bool](c.fs, "json") {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return
	}
	fmt.Fprintln(c.stdout, rep)
}

func benchSignup(ctx context.Context, c *cli) int {
	url := benchURL(c)
	for _, plan := range strings.Split(flagString(c.fs, "plans"), ",") {
		plan = strings.TrimSpace(plan)
		fmt.Fprintf(c.stderr, "signups on %s: plan %s, %.1f/s for %s\n", url, plan, flagValue[float64](c.fs, "rate"), flagValue[time.Duration](c.fs, "duration"))
		rep, err := load.Signups(ctx, load.SignupConfig{
			URL: url, Rate: flagValue[float64](c.fs, "rate"), Duration: flagValue[time.Duration](c.fs, "duration"),
			Plan: plan, Token: flagString(c.fs, "token"), Progress: c.stderr,
		})
		if err != nil {
			fmt.Fprintf(c.stderr, "tenantd bench signup: %v\n", err)
			return 1
		}
		printReport(c, rep)
	}
	return 0
}

func benchSubscriptions(ctx context.Context, c *cli) int {
	token := flagString(c.fs, "token")
	if token == "" {
		token = c.cfg.AdminToken
	}
	rep, err := load.Subscriptions(ctx, load.SubscriptionConfig{
		URL: benchURL(c), Token: token,
		Subscriptions: flagValue[int](c.fs, "subscriptions"), PerConnection: flagValue[int](c.fs, "per-conn"),
		Tenants: flagValue[int](c.fs, "tenants"), Events: flagValue[int](c.fs, "events"),
		EventInterval: flagValue[time.Duration](c.fs, "interval"), Progress: c.stderr,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd bench subscriptions: %v\n", err)
		return 1
	}
	printReport(c, rep)
	return 0
}

func check(ctx context.Context, c *cli) int {
	token := flagString(c.fs, "token")
	if token == "" {
		token = c.cfg.AdminToken
	}
	if token == "" {
		fmt.Fprintln(c.stderr, "tenantd check: an admin token is needed: --token or TENANTD_ADMIN_TOKEN")
		return 2
	}
	rep, err := load.RunReadinessChecks(ctx, benchURL(c), token)
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd check: %v\n", err)
		return 1
	}
	if flagValue[bool](c.fs, "json") {
		printReport(c, rep)
	} else {
		for _, ch := range rep.Checks {
			fmt.Fprintf(c.stdout, "%-4s  %-26s %s\n", ch.Status, ch.Title, ch.Summary)
		}
		fmt.Fprintf(c.stdout, "readiness: %s\n", rep.Status)
	}
	if rep.Status == "FAIL" {
		return 1
	}
	return 0
}

func tokenList(ctx context.Context, c *cli) int {
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("token list", "err", err)
		return 1
	}
	defer db.Close()
	ts, err := authService(db).AdminTokens(ctx)
	if err != nil {
		c.log.Error("token list", "err", err)
		return 1
	}
	fmt.Fprintf(c.stdout, "%-36s  %-7s  %-12s  %-20s  %-10s  %s\n", "ID", "ROLE", "PREFIX", "CREATED", "STATUS", "NAME")
	for _, t := range ts {
		status := "active"
		if t.RevokedAt != nil {
			status = "revoked"
		}
		fmt.Fprintf(c.stdout, "%-36s  %-7s  %-12s  %-20s  %-10s  %s\n", t.ID, t.Role, t.Prefix, t.CreatedAt.Format(time.DateTime), status, t.Name)
	}
	return 0
}

func tokenRevoke(ctx context.Context, c *cli) int {
	ref := flagString(c.fs, "token")
	if ref == "" {
		fmt.Fprintln(c.stderr, "tenantd token revoke: --token <id or prefix> is required")
		return 2
	}
	db, err := openStore(ctx, c)
	if err != nil {
		c.log.Error("token revoke", "err", err)
		return 1
	}
	defer db.Close()
	t, err := authService(db).RevokeAdminToken(ctx, ref)
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd token revoke: %s\n", tenantd.ErrorMessage(err))
		return 1
	}
	fmt.Fprintf(c.stdout, "revoked %s token %s (%s)\n", t.Role, t.Prefix, t.ID)
	return 0
}

// authService is the token service of a CLI command. The CLI's own event hub
// has no subscribers: on PostgreSQL a revocation reaches every server
// through NOTIFY in its transaction; on SQLite (another process on the same
// file) the servers' once-a-second check of their open WebSockets finds it.
func authService(db *store.DB) *auth.Service {
	return auth.New(db, events.NewPublisher(events.NewHub()))
}
