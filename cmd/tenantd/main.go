// Command tenantd is the tenant lifecycle control plane: a GraphQL API over
// an audited tenant state machine. Run `tenantd --help` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	"github.com/tenantd/tenantd/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is what a command runs with.
type cli struct {
	cfg    *config.Config
	flags  *pflag.FlagSet
	args   []string // the command's arguments, flags aside
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

// exitCode ends a command with a status after it printed why.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// The configuration flags each kind of command takes; the environment sets
// every variable for every command.
var (
	storeFlags  = []string{"data-dir", "database-url", "owner-database-url"}
	importFlags = append(slices.Clone(storeFlags), "export-dir", "max-document-bytes")
)

// newCommand makes a command that loads the configuration (the environment,
// then the given configuration flags) and runs fn with it.
func newCommand(use, short, long string, configFlags []string, fn func(ctx context.Context, c *cli) int) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs}
	if configFlags != nil { // empty: every configuration flag
		config.Flags(cmd.Flags(), configFlags...)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := config.Load(os.Environ(), cmd.Flags())
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "tenantd: configuration: %v\n", err)
			return exitCode(2)
		}
		c := &cli{cfg: cfg, flags: cmd.Flags(), args: args, log: newLogger(cfg, cmd.ErrOrStderr()),
			stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
		if code := fn(cmd.Context(), c); code != 0 {
			return exitCode(code)
		}
		return nil
	}
	return cmd
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		}}
	cmd.AddCommand(subs...)
	return cmd
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantd",
		Short: "tenantd — the tenant lifecycle control plane",
		Long: "tenantd — the tenant lifecycle control plane: a GraphQL API over an audited tenant state machine.\n\n" +
			"Without a command, tenantd serves (tenantd [serve] [flags]). The configuration comes from\n" +
			"TENANTD_* environment variables (see \"tenantd help environment\"); each command takes the\n" +
			"ones it uses as flags too.",
		Version:       version.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("tenantd {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = true

	serveCmd := newCommand("serve", "Run the API server (the default command)",
		"Run the API server until SIGINT or SIGTERM, then drain requests and stop (exit status 0).\n"+
			"It listens first, then applies the migrations: a busy port stops it before the database is touched.\n"+
			"Every configuration variable is a flag here; \"tenantd help environment\" describes them.",
		[]string{}, serve) // every configuration flag

	tokenCreate := newCommand("create", "Create an admin or partner token and print it once", "", storeFlags, tokenCreate)
	tokenCreate.Flags().String("role", "", "admin (read and write) or partner (read-only); required")
	tokenCreate.Flags().String("name", "", "a name to tell the token apart")
	tokenRevoke := newCommand("revoke", "Revoke an admin or partner token by its id or display prefix (tda_…)", "", storeFlags, tokenRevoke)
	tokenRevoke.Flags().String("token", "", "the token's id or display prefix, as \"tenantd token list\" shows them; required")

	check := newCommand("check", "Run the readiness checks on a running tenantd; exit 1 if one fails",
		"Run the four readiness checks on a running tenantd (runReadinessChecks) and print them;\n"+
			"exit 0 when none fails, 1 otherwise. The admin token is --token, else TENANTD_ADMIN_TOKEN,\n"+
			"else (in development) the token the server generated for its store in the data dir\n"+
			"(./data/dev-admin-token on SQLite; with DATABASE_URL, the PostgreSQL database's file there).",
		[]string{"data-dir", "database-url"}, check)
	check.Flags().String("url", "", "tenantd to check (default http://<TENANTD_ADDR>)")
	check.Flags().String("token", "", "admin token (default TENANTD_ADMIN_TOKEN, then the development token of the data dir)")
	check.Flags().Bool("json", false, "print the result as JSON")

	importCmd := newCommand("import ARCHIVE", "Make a new tenant from a data export archive",
		"Make a new tenant from a data export archive (a ZIP that requestDataExport made), ACTIVE on the\n"+
			"archive's plan with its documents, query log and milestones, and print its new owner API key once.\n"+
			"Every checksum of the archive's manifest is verified first: a tampered or truncated archive is refused,\n"+
			"naming the file, and nothing is written.",
		importFlags, importArchive)
	importCmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return errors.New("give the archive: tenantd import ARCHIVE [--slug s]")
		}
		return nil
	}
	importCmd.Flags().String("slug", "", "the new tenant's slug (default the archive's; needed when that one is taken)")

	benchSignup := newCommand("signup", "Load test: signups followed live to ACTIVE",
		"Drive signups against a running tenantd, follow each to ACTIVE over a subscription,\n"+
			"and report signup → ACTIVE latency (p50/p95/p99) and sustained signups per second.", nil, benchSignup)
	fs := benchSignup.Flags()
	fs.String("url", "", "tenantd to drive (default http://<TENANTD_ADDR>)")
	fs.Float64("rate", 20, "signups started per second")
	fs.Duration("duration", 30*time.Second, "how long to start signups")
	fs.String("plans", "starter,pro", "comma-separated plans, run one after the other (starter: pool, pro: silo)")
	fs.String("token", "", "admin token: marks the tenants as test tenants (out of the figures) and follows them over one shared WebSocket (without --url: default TENANTD_ADMIN_TOKEN, else the development token; without a token the signups are anonymous and count as customers)")
	fs.Bool("json", false, "print the reports as JSON")

	benchSubs := newCommand("subscriptions", "Load test: hold many subscriptions, report memory and event delivery",
		"Hold many idle subscriptions on a running tenantd, report the server memory they\n"+
			"take, then fire transitions and report event delivery latency.", nil, benchSubscriptions)
	fs = benchSubs.Flags()
	fs.String("url", "", "tenantd to drive (default http://<TENANTD_ADDR>)")
	fs.String("token", "", "admin token (default TENANTD_ADMIN_TOKEN, then the development token of ./data)")
	fs.Int("subscriptions", 10_000, "subscriptions to hold")
	fs.Int("per-conn", 100, "subscriptions per WebSocket")
	fs.Int("tenants", 100, "tenants the subscriptions are spread over")
	fs.Int("events", 200, "transitions to fire while they are held")
	fs.Duration("interval", 50*time.Millisecond, "time between transitions")
	fs.Bool("json", false, "print the report as JSON")

	root.AddCommand(
		serveCmd,
		newCommand("migrate", "Apply tenantd's and River's migrations and seed the plans, then exit", "", storeFlags, migrate),
		group("token", "Create, list and revoke admin and partner tokens",
			tokenCreate,
			newCommand("list", "List the admin and partner tokens (prefixes only: secrets are never stored)", "", storeFlags, tokenList),
			tokenRevoke),
		group("audit", "Verify the audit trail",
			newCommand("verify", "Walk every tenant's history chain; exit 1 and name the first broken row", "", storeFlags, auditVerify)),
		check,
		importCmd,
		group("bench", "Load tests against a running tenantd", benchSignup, benchSubs),
		&cobra.Command{Use: "environment", Short: "The configuration variables (TENANTD_*, DATABASE_URL, STRIPE_*, SMTP_URL)",
			Long: config.Usage()},
	)
	// The root's help lists every command; the commands keep cobra's own.
	commandUsage := (&cobra.Command{}).UsageTemplate()
	for _, c := range root.Commands() {
		c.SetUsageTemplate(commandUsage)
	}
	root.SetUsageTemplate(rootUsage)
	return root
}

// rootUsage is tenantd --help: every command with its subcommands.
const rootUsage = `Usage:
  tenantd [command] [flags]

Commands:{{range .Commands}}{{if .IsAvailableCommand}}{{if .HasAvailableSubCommands}}{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .CommandPath 30}} {{.Short}}{{end}}{{end}}{{else}}
  {{rpad .CommandPath 30}} {{.Short}}{{end}}{{end}}{{end}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}

Help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  tenantd help {{rpad .Name 17}} {{.Short}}{{end}}{{end}}

Run "tenantd [command] --help" for a command's flags.
`

// rootFlags are the flags of tenantd itself; any other flag without a
// command is the default command's (tenantd --addr … serves).
var rootFlags = map[string]bool{"-h": true, "--help": true, "-v": true, "--version": true}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !rootFlags[args[0]]) {
		args = append([]string{"serve"}, args...)
	}
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	default: // a usage error: unknown command or flag, bad arguments
		fmt.Fprintf(stderr, "tenantd: %v\nRun \"%s --help\" for usage.\n", err, cmd.CommandPath())
		return 2
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, c *cli) int {
	c.log.Info("starting tenantd", "version", version.String(), "config", c.cfg)
	opts, opened, err := crashPoint(c.cfg)
	if err != nil {
		c.log.Error("start-up failed", "err", err)
		return 1
	}
	// Listen before migrating: a busy port is reported at once.
	lns, err := server.Listen(c.cfg)
	if err != nil {
		c.log.Error("start-up failed", "err", err)
		return 1
	}
	srv, err := server.Open(ctx, c.cfg, c.log, append(opts, server.WithListeners(lns))...)
	if err != nil {
		lns.Close()
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
	role := strings.ToUpper(flagString(c.flags, "role"))
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
	secret, t, err := authService(db).CreateAdminToken(ctx, admintoken.Role(role), flagString(c.flags, "name"))
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

func flagString(fs *pflag.FlagSet, name string) string { v, _ := fs.GetString(name); return v }

func flagBool(fs *pflag.FlagSet, name string) bool { v, _ := fs.GetBool(name); return v }

func flagFloat(fs *pflag.FlagSet, name string) float64 { v, _ := fs.GetFloat64(name); return v }

func flagInt(fs *pflag.FlagSet, name string) int { v, _ := fs.GetInt(name); return v }

func flagDuration(fs *pflag.FlagSet, name string) time.Duration {
	v, _ := fs.GetDuration(name)
	return v
}

// adminToken is the admin token a client command uses: its --token, else
// TENANTD_ADMIN_TOKEN, else in development the token a server generated for
// the configured store (config.DevTokenPath).
func adminToken(c *cli) string {
	if t := flagString(c.flags, "token"); t != "" {
		return t
	}
	if c.cfg.AdminToken != "" {
		return c.cfg.AdminToken
	}
	if c.cfg.IsDevelopment() {
		if b, err := os.ReadFile(c.cfg.DevTokenPath()); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

func benchURL(c *cli) string {
	if u := flagString(c.flags, "url"); u != "" {
		return strings.TrimSuffix(u, "/")
	}
	return "http://" + c.cfg.Addr
}

func printReport(c *cli, rep any) {
	if flagBool(c.flags, "json") {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return
	}
	fmt.Fprintln(c.stdout, rep)
}

func benchSignup(ctx context.Context, c *cli) int {
	url := benchURL(c)
	token := flagString(c.flags, "token")
	if token == "" && flagString(c.flags, "url") == "" {
		token = adminToken(c) // the configured server's own token
	}
	for _, plan := range strings.Split(flagString(c.flags, "plans"), ",") {
		plan = strings.TrimSpace(plan)
		fmt.Fprintf(c.stderr, "signups on %s: plan %s, %.1f/s for %s\n", url, plan, flagFloat(c.flags, "rate"), flagDuration(c.flags, "duration"))
		rep, err := load.Signups(ctx, load.SignupConfig{
			URL: url, Rate: flagFloat(c.flags, "rate"), Duration: flagDuration(c.flags, "duration"),
			Plan: plan, Token: token, Progress: c.stderr,
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
	token := adminToken(c)
	rep, err := load.Subscriptions(ctx, load.SubscriptionConfig{
		URL: benchURL(c), Token: token,
		Subscriptions: flagInt(c.flags, "subscriptions"), PerConnection: flagInt(c.flags, "per-conn"),
		Tenants: flagInt(c.flags, "tenants"), Events: flagInt(c.flags, "events"),
		EventInterval: flagDuration(c.flags, "interval"), Progress: c.stderr,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd bench subscriptions: %v\n", err)
		return 1
	}
	printReport(c, rep)
	return 0
}

func check(ctx context.Context, c *cli) int {
	token := adminToken(c)
	if token == "" {
		fmt.Fprintf(c.stderr, "tenantd check: an admin token is needed: --token, TENANTD_ADMIN_TOKEN, or in development the token a server keeps in %s (there is none)\n",
			c.cfg.DevTokenPath())
		return 2
	}
	rep, err := load.RunReadinessChecks(ctx, benchURL(c), token)
	if err != nil {
		fmt.Fprintf(c.stderr, "tenantd check: %v\n", err)
		return 1
	}
	if flagBool(c.flags, "json") {
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
	ref := flagString(c.flags, "token")
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
