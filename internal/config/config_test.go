package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	return fs
}

func TestPortOutOfRange(t *testing.T) {
	_, err := Load([]string{"TENANTD_ADDR=127.0.0.1:99999"}, nil)
	require.EqualError(t, err, `invalid TENANTD_ADDR: the port "99999" is not a number from 0 to 65535`)
	fs := flags()
	require.NoError(t, fs.Parse([]string{"--addr", "localhost:65536"}))
	_, err = Load(nil, fs)
	require.EqualError(t, err, `invalid --addr: the port "65536" is not a number from 0 to 65535`)
	c, err := Load([]string{"TENANTD_ADDR=0.0.0.0:65535"}, nil)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:65535", c.Addr)
}

func TestUnknownVariableSuggestsTheKnownOne(t *testing.T) {
	cases := map[string]string{
		"TENANTD_ADRR":         "unknown variable TENANTD_ADRR (did you mean TENANTD_ADDR?)",
		"TENANTD_DATADIR":      "unknown variable TENANTD_DATADIR (did you mean TENANTD_DATA_DIR?)",
		"TENANTD_DATABASE_URL": "unknown variable TENANTD_DATABASE_URL (did you mean DATABASE_URL?)",
		"TENANTD_SMTP_URL":     "unknown variable TENANTD_SMTP_URL (did you mean SMTP_URL?)",
		"TENANTD_PORT":         "unknown variable TENANTD_PORT (did you mean TENANTD_ADDR?)",
		"TENANTD_LOGLEVEL":     "unknown variable TENANTD_LOGLEVEL (did you mean TENANTD_LOG_LEVEL?)",
	}
	for name, want := range cases {
		_, err := Load([]string{name + "=x"}, nil)
		require.EqualError(t, err, want, name)
	}
	// Nothing close: the known names are listed.
	_, err := Load([]string{"TENANTD_FROBNICATE=1", "TENANTD_ADRR=x"}, nil)
	require.ErrorContains(t, err, "unknown variables TENANTD_ADRR (did you mean TENANTD_ADDR?), TENANTD_FROBNICATE; tenantd knows TENANTD_ADDR, ")
	require.ErrorContains(t, err, "tenantd help environment")
}

func TestDevTokenPathPerStore(t *testing.T) {
	c, err := Load([]string{"TENANTD_DATA_DIR=/srv/data"}, nil)
	require.NoError(t, err)
	require.Equal(t, "/srv/data/dev-admin-token", c.DevTokenPath())
	for url, want := range map[string]string{
		"postgres://app:secret@127.0.0.1:5432/tenantd?sslmode=disable": "/srv/data/dev-admin-token.postgres-127.0.0.1-5432-tenantd",
		"postgresql://db.internal/other":                               "/srv/data/dev-admin-token.postgres-db.internal-5432-other",
		"postgres://bob@[::1]:6543":                                    "/srv/data/dev-admin-token.postgres-__1-6543-bob",
	} {
		c, err := Load([]string{"TENANTD_DATA_DIR=/srv/data", "DATABASE_URL=" + url}, nil)
		require.NoError(t, err)
		require.Equal(t, want, c.DevTokenPath(), url)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil, nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", c.Addr)
	require.Equal(t, "./data", c.DataDir)
	require.Equal(t, Development, c.Env)
	require.Equal(t, time.Minute, c.SweepInterval)
	require.Empty(t, c.DatabaseURL)
}

func TestMalformedValuesNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"TENANTD_ADDR=8080":                        "TENANTD_ADDR",
		"TENANTD_ENV=staging":                      "TENANTD_ENV",
		"DATABASE_URL=mysql://x":                   "DATABASE_URL",
		"TENANTD_ADMIN_TOKEN=short":                "TENANTD_ADMIN_TOKEN",
		"TENANTD_ALLOWED_ORIGINS=app.example.com":  "TENANTD_ALLOWED_ORIGINS",
		"TENANTD_SWEEP_INTERVAL=soon":              "TENANTD_SWEEP_INTERVAL",
		"TENANTD_SWEEP_INTERVAL=1ms":               "TENANTD_SWEEP_INTERVAL",
		"TENANTD_LOG_LEVEL=loud":                   "TENANTD_LOG_LEVEL",
		"STRIPE_SECRET_KEY=pk_live_x":              "STRIPE_SECRET_KEY",
		"STRIPE_WEBHOOK_SECRET=abc":                "STRIPE_WEBHOOK_SECRET",
		"SMTP_URL=mail.example.com":                "SMTP_URL",
		"TENANTD_ADRR=127.0.0.1:1":                 "TENANTD_ADRR",
		"STRIPE_API_BASE=ftp://stripe.example.com": "STRIPE_API_BASE",
		"TENANTD_LOG_FORMAT=xml":                   "TENANTD_LOG_FORMAT",
		"TENANTD_DATA_DIR= ":                       "TENANTD_DATA_DIR",
		"TENANTD_EXPORT_DIR= ":                     "TENANTD_EXPORT_DIR",
		"TENANTD_EXPORT_TTL=forever":               "TENANTD_EXPORT_TTL",
		"TENANTD_EXPORT_TTL=1m":                    "TENANTD_EXPORT_TTL",
		"TENANTD_ADDR=127.0.0.1:99999":             "TENANTD_ADDR",
		"TENANTD_METRICS_ADDR=127.0.0.1:70000":     "TENANTD_METRICS_ADDR",
	}
	for kv, name := range cases {
		_, err := Load([]string{kv}, nil)
		require.Error(t, err, kv)
		require.Contains(t, err.Error(), name, kv)
	}
}

func TestExportStore(t *testing.T) {
	c, err := Load([]string{"TENANTD_DATA_DIR=/var/lib/tenantd"}, nil)
	require.NoError(t, err)
	require.Equal(t, "/var/lib/tenantd/exports", c.ExportDir, "under the data dir by default")
	require.Equal(t, 7*24*time.Hour, c.ExportTTL)
	fs := flags()
	require.NoError(t, fs.Parse([]string{"--export-ttl", "48h"}))
	c, err = Load([]string{"TENANTD_EXPORT_DIR=/mnt/shared/exports"}, fs)
	require.NoError(t, err)
	require.Equal(t, "/mnt/shared/exports", c.ExportDir)
	require.Equal(t, 48*time.Hour, c.ExportTTL)
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	fs := flags()
	require.NoError(t, fs.Parse([]string{"--addr", "127.0.0.1:9999", "--env", "production"}))
	c, err := Load([]string{"TENANTD_ADDR=127.0.0.1:1111", "TENANTD_ALLOWED_ORIGINS=https://a.example.com, http://localhost:5173"}, fs)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", c.Addr)
	require.Equal(t, Production, c.Env)
	require.Equal(t, []string{"https://a.example.com", "http://localhost:5173"}, c.AllowedOrigins)

	bad := flags()
	require.NoError(t, bad.Parse([]string{"--env", "qa"}))
	_, err = Load(nil, bad)
	require.ErrorContains(t, err, "--env")
}

func TestSecretsAreRedactedInLogs(t *testing.T) {
	c, err := Load([]string{
		"DATABASE_URL=postgres://app:hunter2@db:5432/tenantd",
		"TENANTD_ADMIN_TOKEN=tda_super_secret_token_value",
		"SMTP_URL=smtp://u:mailpass@mail:25",
	}, nil)
	require.NoError(t, err)
	s := c.LogValue().String()
	for _, secret := range []string{"hunter2", "tda_super_secret_token_value", "mailpass"} {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, s, "db:5432")
}

func TestSubscriptionCaps(t *testing.T) {
	c, err := Load(nil, nil)
	require.NoError(t, err)
	require.Equal(t, 100, c.MaxSubscriptionsPerConnection)
	require.Equal(t, 1000, c.MaxSubscriptionsPerToken)

	c, err = Load([]string{"TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN=20000"}, nil)
	require.NoError(t, err)
	require.Equal(t, 20000, c.MaxSubscriptionsPerToken)

	for _, kv := range []string{"TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION=0", "TENANTD_MAX_SUBSCRIPTIONS_PER_CONNECTION=many",
		"TENANTD_MAX_SUBSCRIPTIONS_PER_TOKEN=-1"} {
		name, _, _ := strings.Cut(kv, "=")
		_, err := Load([]string{kv}, nil)
		require.ErrorContains(t, err, name, kv)
	}
}
