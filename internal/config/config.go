// Package config loads tenantd's configuration from the environment and from
// flags (a flag wins over its variable), fills defaults and validates every
// value, naming the variable at fault.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/pflag"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is tenantd's configuration. Each field comes from one variable of
// the table below and may be overridden by the flag of the same name.
type Config struct {
	Addr             string
	MetricsAddr      string
	PublicURL        string
	DataDir          string
	DatabaseURL      string
	OwnerURL         string
	MaxDocument      int64
	ActivationWindow time.Duration
	Env              string
	AdminToken       string
	AllowedOrigins   []string
	SweepInterval    time.Duration
	// MoveSourceGrace is how long a workspace move keeps its source after
	// the switch, for reads that started on it.
	MoveSourceGrace time.Duration
	Workers         bool
	// ExportDir is the export store: a directory every replica shares.
	ExportDir string
	// ExportTTL is how long an export archive and its link live.
	ExportTTL time.Duration
	// MaxSubscriptionsPerConnection and MaxSubscriptionsPerToken cap the
	// subscriptions one WebSocket, and one credential over all of this
	// process's WebSockets, may hold at once.
	MaxSubscriptionsPerConnection int
	MaxSubscriptionsPerToken      int
	LogLevel                      slog.Level
	LogFormat                     string

	StripeSecretKey     string
	StripeAPIBase       string
	StripeWebhookSecret string
	SMTPURL             string
}

// variable describes one setting.
type variable struct {
	env, flag, usage, def string
	secret                bool
	set                   func(c *Config, v string) error
	get                   func(c *Config) string
}

var variables = []variable{
	{env: "TENANTD_ADDR", flag: "addr", def: "127.0.0.1:8080", usage: "address to listen on (host:port)",
		set: func(c *Config, v string) error {
			if err := checkAddr(v); err != nil {
				return err
			}
			c.Addr = v
			return nil
		}, get: func(c *Config) string { return c.Addr }},
	{env: "TENANTD_METRICS_ADDR", flag: "metrics-addr",
		usage: "serve /metrics on this address only (host:port, e.g. a private interface), without a token; empty serves it on TENANTD_ADDR, behind an admin or partner token in production",
		set: func(c *Config, v string) error {
			if v != "" {
				if err := checkAddr(v); err != nil {
					return err
				}
			}
			c.MetricsAddr = v
			return nil
		}, get: func(c *Config) string { return c.MetricsAddr }},
	{env: "TENANTD_PUBLIC_URL", flag: "public-url", usage: "the URL users reach tenantd at, for links in emails (default http://<TENANTD_ADDR>)",
		set: func(c *Config, v string) error {
			if v == "" {
				c.PublicURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("want an http(s) URL like https://tenantd.example.com")
			}
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}, get: func(c *Config) string { return c.PublicURL }},
	{env: "TENANTD_DATA_DIR", flag: "data-dir", def: "./data", usage: "directory for the SQLite database, exports and the outbox",
		set: func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("must not be empty")
			}
			c.DataDir = v
			return nil
		}, get: func(c *Config) string { return c.DataDir }},
	{env: "DATABASE_URL", flag: "database-url", secret: true, usage: "postgres://… selects PostgreSQL; empty uses embedded SQLite",
		set: func(c *Config, v string) error {
			if v == "" {
				c.DatabaseURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
				return errors.New("want a PostgreSQL URL like postgres://user@host:5432/db (leave it empty for embedded SQLite)")
			}
			c.DatabaseURL = v
			return nil
		}, get: func(c *Config) string { return c.DatabaseURL }},
	{env: "TENANTD_OWNER_DATABASE_URL", flag: "owner-database-url", secret: true,
		usage: "PostgreSQL role that owns the schema, for migrations (default DATABASE_URL); DATABASE_URL's role must not own the tables",
		set: func(c *Config, v string) error {
			if v == "" {
				c.OwnerURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
				return errors.New("want a PostgreSQL URL like postgres://owner@host:5432/db")
			}
			c.OwnerURL = v
			return nil
		}, get: func(c *Config) string { return c.OwnerURL }},
	{env: "TENANTD_MAX_DOCUMENT_BYTES", flag: "max-document-bytes", def: "10485760", usage: "largest document a tenant may upload, in bytes",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > 256<<20 {
				return errors.New("want a number of bytes from 1 to 268435456 (256 MiB), e.g. 10485760")
			}
			c.MaxDocument = n
			return nil
		}, get: func(c *Config) string { return strconv.FormatInt(c.MaxDocument, 10) }},
	{env: "TENANTD_ACTIVATION_WINDOW", flag: "activation-window", def: "168h",
		usage: "a tenant is activated when its first query comes within this time of its signup",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Hour || d > 90*24*time.Hour {
				return errors.New("want a duration from 1h to 2160h, e.g. 168h (7 days)")
			}
			c.ActivationWindow = d
			return nil
		}, get: func(c *Config) string { return c.ActivationWindow.String() }},
	{env: "TENANTD_ENV", flag: "env", def: Development, usage: "development (GraphiQL, introspection) or production",
		set: func(c *Config, v string) error {
			if v != Development && v != Production {
				return fmt.Errorf("want %q or %q", Development, Production)
			}
			c.Env = v
			return nil
		}, get: func(c *Config) string { return c.Env }},
	{env: "TENANTD_ADMIN_TOKEN", flag: "admin-token", secret: true, usage: "bootstrap admin token (at least 20 characters)",
		set: func(c *Config, v string) error {
			if v != "" && len(v) < 20 {
				return errors.New("must be at least 20 characters long; generate one with `tenantd token create --role admin` or openssl rand -hex 20")
			}
			c.AdminToken = v
			return nil
		}, get: func(c *Config) string { return c.AdminToken }},
	{env: "TENANTD_ALLOWED_ORIGINS", flag: "allowed-origins", usage: "comma-separated origins allowed for browsers and WebSockets, e.g. https://app.example.com",
		set: func(c *Config, v string) error {
			c.AllowedOrigins = nil
			for _, o := range strings.Split(v, ",") {
				o = strings.TrimSpace(o)
				if o == "" {
					continue
				}
				u, err := url.Parse(o)
				if o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/")) {
					return fmt.Errorf("%q is not an origin; want scheme://host[:port], e.g. https://app.example.com", o)
				}
				c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimSuffix(o, "/"))
			}
			return nil
		}, get: func(c *Config) string { return strings.Join(c.AllowedOrigins, ",") }},
	{env: "TENANTD_SWEEP_INTERVAL", flag: "sweep-interval", def: "1m", usage: "how often retention, export-expiry and win-back sweeps run",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return errors.New("want a duration of at least 1s, e.g. 1m or 30s")
			}
			c.SweepInterval = d
			return nil
		}, get: func(c *Config) string { return c.SweepInterval.String() }},
	{env: "TENANTD_MOVE_SOURCE_GRACE", flag: "move-source-grace", def: "5s",
		usage: "how long a plan change that moves a tenant's data keeps the old copy after the switch, for reads still on it (0s: none)",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > time.Hour {
				return errors.New("want a duration from 0s to 1h, e.g. 5s")
			}
			c.MoveSourceGrace = d
			return nil
		}, get: func(c *Config) string { return c.MoveSourceGrace.String() }},
	{env: "TENANTD_EXPORT_DIR", flag: "export-dir",
		usage: "directory of export archives (default <TENANTD_DATA_DIR>/exports); with several replicas it must be one directory they all share (NFS, …)",
		set: func(c *Config, v string) error {
			if v != "" && strings.TrimSpace(v) == "" {
				return errors.New("must not be blank")
			}
			c.ExportDir = v
			return nil
		}, get: func(c *Config) string { return c.ExportDir }},
	{env: "TENANTD_EXPORT_TTL", flag: "export-ttl", def: "168h",
		usage: "how long a data export archive is kept and its download link works",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Hour || d > 90*24*time.Hour {
				return errors.New("want a duration from 1h to 2160h, e.g. 168h (7 days)")
			}
			c.ExportTTL = d
			return nil
		}, get: func(c *Config) string { return c.ExportTTL.String() }},
	{env: "TENANTD_WORKERS", flag: "workers", def: "true",
		usage: "run River workers and the sweeps on this replica; false makes an API-only replica (PostgreSQL)",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("want true or false")
			}
			c.Workers = b
			return nil
		}, get: func(c *Config) string { return strconv.FormatBool(c.Workers) }},
	{env: "TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION", flag: "max-subscriptions-per-connection", def: "100",
		usage: "most subscriptions one WebSocket may hold at once",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100_000 {
				return errors.New("want a number from 1 to 100000, e.g. 100")
			}
			c.MaxSubscriptionsPerConnection = n
			return nil
		}, get: func(c *Config) string { return strconv.Itoa(c.MaxSubscriptionsPerConnection) }},
	{env: "TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN", flag: "max-subscriptions-per-token", def: "1000",
		usage: "most subscriptions one token or API key may hold at once over all its WebSockets to this process",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10_000_000 {
				return errors.New("want a number from 1 to 10000000, e.g. 1000")
			}
			c.MaxSubscriptionsPerToken = n
			return nil
		}, get: func(c *Config) string { return strconv.Itoa(c.MaxSubscriptionsPerToken) }},
	{env: "TENANTD_LOG_LEVEL", flag: "log-level", def: "info", usage: "debug, info, warn or error",
		set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return errors.New("want debug, info, warn or error")
			}
			return nil
		}, get: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) }},
	{env: "TENANTD_LOG_FORMAT", flag: "log-format", def: "text", usage: "text or json",
		set: func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return errors.New(`want "text" or "json"`)
			}
			c.LogFormat = v
			return nil
		}, get: func(c *Config) string { return c.LogFormat }},
	{env: "STRIPE_SECRET_KEY", flag: "stripe-secret-key", secret: true, usage: "Stripe secret key; empty uses the built-in test billing provider",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "sk_") && !strings.HasPrefix(v, "rk_") {
				return errors.New("want a Stripe secret key (sk_… or rk_…)")
			}
			c.StripeSecretKey = v
			return nil
		}, get: func(c *Config) string { return c.StripeSecretKey }},
	{env: "STRIPE_API_BASE", flag: "stripe-api-base", usage: "Stripe API base URL (for stripe-mock in tests)",
		set: func(c *Config, v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return errors.New("want an http(s) URL like http://127.0.0.1:12111")
				}
			}
			c.StripeAPIBase = v
			return nil
		}, get: func(c *Config) string { return c.StripeAPIBase }},
	{env: "STRIPE_WEBHOOK_SECRET", flag: "stripe-webhook-secret", secret: true, usage: "signing secret of the Stripe webhook endpoint (whsec_…)",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "whsec_") {
				return errors.New("want a webhook signing secret (whsec_…)")
			}
			c.StripeWebhookSecret = v
			return nil
		}, get: func(c *Config) string { return c.StripeWebhookSecret }},
	{env: "SMTP_URL", flag: "smtp-url", secret: true, usage: "smtp://[user:pass@]host:port (smtps:// for implicit TLS); empty writes .eml files to the data dir",
		set: func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Port() == "" {
					return errors.New("want smtp://host:port or smtps://host:port")
				}
			}
			c.SMTPURL = v
			return nil
		}, get: func(c *Config) string { return c.SMTPURL }},
}

// checkAddr validates a host:port listen address.
func checkAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port, e.g. 127.0.0.1:8080: %v", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("the port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// Flags adds the flags of the named variables (by environment name,
// "TENANTD_ADDR", or flag name, "addr") to fs; with no names, every
// variable's. A command offers the flags of the settings it uses; the
// environment sets them all. Call Load with fs after parsing.
func Flags(fs *pflag.FlagSet, names ...string) {
	for _, v := range variables {
		if len(names) > 0 && !slices.Contains(names, v.env) && !slices.Contains(names, v.flag) {
			continue
		}
		fs.String(v.flag, v.def, fmt.Sprintf("%s (env %s)", v.usage, v.env))
	}
}

// Load builds the configuration from environ (os.Environ() form) and the
// parsed flags of fs (which may be nil; only its configuration flags that
// were set count). Unknown TENANTD_* variables and malformed values are
// errors that name the variable.
func Load(environ []string, fs *pflag.FlagSet) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	known := map[string]bool{}
	for _, v := range variables {
		known[v.env] = true
	}
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "TENANTD_") && !known[k] && !strings.HasPrefix(k, "TENANTD_TEST_") && !strings.HasPrefix(k, "TENANTD_DEV_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, unknownError(unknown)
	}
	flagged := map[string]string{}
	if fs != nil {
		fs.Visit(func(f *pflag.Flag) { flagged[f.Name] = f.Value.String() })
	}
	c := &Config{}
	for _, v := range variables {
		val, src := v.def, v.env
		if e, ok := env[v.env]; ok && e != "" {
			val = e
		}
		if f, ok := flagged[v.flag]; ok {
			val, src = f, "--"+v.flag
		}
		if err := v.set(c, val); err != nil {
			return nil, fmt.Errorf("invalid %s: %w", src, err)
		}
	}
	if !c.Workers && c.DatabaseURL == "" {
		return nil, errors.New("invalid TENANTD_WORKERS: an SQLite tenantd is a single process and must run its workers")
	}
	if c.ExportDir == "" {
		c.ExportDir = filepath.Join(c.DataDir, "exports")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	if c.Env == Production && c.StripeSecretKey == "" && c.StripeAPIBase != "" {
		return nil, errors.New("invalid STRIPE_API_BASE: set only together with STRIPE_SECRET_KEY")
	}
	return c, nil
}

// unknownError names each unknown variable with the known one it most
// likely misspells.
func unknownError(unknown []string) error {
	var parts []string
	guessed := true
	for _, k := range unknown {
		if s := suggest(k); s != "" {
			parts = append(parts, fmt.Sprintf("%s (did you mean %s?)", k, s))
		} else {
			parts, guessed = append(parts, k), false
		}
	}
	msg := "unknown variable " + strings.Join(parts, ", ")
	if len(unknown) > 1 {
		msg = "unknown variables " + strings.Join(parts, ", ")
	}
	if !guessed {
		msg += "; tenantd knows " + strings.Join(envNames(), ", ") + " (see `tenantd help environment`)"
	}
	return errors.New(msg)
}

// aliases are names people try for a setting that has another name.
var aliases = map[string]string{
	"TENANTD_PORT": "TENANTD_ADDR", "TENANTD_HOST": "TENANTD_ADDR", "TENANTD_LISTEN": "TENANTD_ADDR",
	"TENANTD_LISTEN_ADDR": "TENANTD_ADDR", "TENANTD_BIND": "TENANTD_ADDR", "TENANTD_ENVIRONMENT": "TENANTD_ENV",
}

// suggest returns the known variable closest to name: the same name without
// the TENANTD_ prefix (TENANTD_DATABASE_URL: DATABASE_URL), or one a few
// edits away (TENANTD_ADRR: TENANTD_ADDR); "" if none is close.
func suggest(name string) string {
	if a, ok := aliases[name]; ok {
		return a
	}
	bare := strings.TrimPrefix(name, "TENANTD_")
	best, bestDist := "", 0
	for _, v := range variables {
		d := min(levenshtein.ComputeDistance(name, v.env), levenshtein.ComputeDistance(bare, strings.TrimPrefix(v.env, "TENANTD_")))
		if best == "" || d < bestDist {
			best, bestDist = v.env, d
		}
	}
	if bestDist > max(2, len(bare)/4) {
		return ""
	}
	return best
}

// FromEnv loads the configuration from the process environment alone.
func FromEnv() (*Config, error) { return Load(os.Environ(), nil) }

func envNames() []string {
	var out []string
	for _, v := range variables {
		out = append(out, v.env)
	}
	return out
}

// IsDevelopment reports whether tenantd runs in development mode.
func (c *Config) IsDevelopment() bool { return c.Env == Development }

// LogValue implements slog.LogValuer: the configuration with secrets redacted.
func (c *Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, v := range variables {
		val := v.get(c)
		if v.secret && val != "" {
			val = redact(v.env, val)
		}
		attrs = append(attrs, slog.String(v.env, val))
	}
	return slog.GroupValue(attrs...)
}

func redact(name, val string) string {
	if slices.Contains([]string{"DATABASE_URL", "TENANTD_OWNER_DATABASE_URL", "SMTP_URL"}, name) {
		if u, err := url.Parse(val); err == nil {
			return u.Redacted()
		}
	}
	return "[redacted]"
}

// Usage describes every variable, for `tenantd help environment`.
func Usage() string {
	var b strings.Builder
	b.WriteString("tenantd reads its configuration from these environment variables; the commands that use a\n" +
		"setting also take it as the flag of the same name (TENANTD_ADDR: --addr), and a flag wins.\n" +
		"An unknown TENANTD_* variable or a malformed value stops tenantd with a message naming it.\n\n")
	for _, v := range variables {
		def := ""
		if v.def != "" {
			def = fmt.Sprintf(" (default %s)", v.def)
		}
		fmt.Fprintf(&b, "  %s, --%s\n      %s%s\n", v.env, v.flag, v.usage, def)
	}
	return b.String()
}

// DevTokenPath is the file where a development server keeps the admin token
// it generated, in the data dir, one per store: dev-admin-token for the
// embedded SQLite database, dev-admin-token.postgres-<host>-<port>-<database>
// for a PostgreSQL database, so that one checkout run on both keeps a token
// for each. `tenantd check` reads it too.
func (c *Config) DevTokenPath() string {
	name := "dev-admin-token"
	if c.DatabaseURL != "" {
		u, _ := url.Parse(c.DatabaseURL) // validated by Load
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "localhost"
		}
		if port == "" {
			port = "5432"
		}
		db := strings.TrimPrefix(u.Path, "/")
		if db == "" {
			db = u.User.Username()
		}
		name += ".postgres-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
				return r
			}
			return '_'
		}, host+"-"+port+"-"+db)
	}
	return filepath.Join(c.DataDir, name)
}
