package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
	fs := FlagSet("test")
	require.NoError(t, fs.Parse([]string{"--export-ttl", "48h"}))
	c, err = Load([]string{"TENANTD_EXPORT_DIR=/mnt/shared/exports"}, fs)
	require.NoError(t, err)
	require.Equal(t, "/mnt/shared/exports", c.ExportDir)
	require.Equal(t, 48*time.Hour, c.ExportTTL)
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	fs := FlagSet("test")
	require.NoError(t, fs.Parse([]string{"--addr", "127.0.0.1:9999", "--env", "production"}))
	c, err := Load([]string{"TENANTD_ADDR=127.0.0.1:1111", "TENANTD_ALLOWED_ORIGINS=https://a.example.com, http://localhost:5173"}, fs)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", c.Addr)
	require.Equal(t, Production, c.Env)
	require.Equal(t, []string{"https://a.example.com", "http://localhost:5173"}, c.AllowedOrigins)

	bad := FlagSet("test")
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
