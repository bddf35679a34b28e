package graph

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
)

func TestScrubFor(t *testing.T) {
	tenant := tenantd.NewContext(context.Background(), tenantd.Viewer{Role: tenantd.RoleTenant})
	admin := tenantd.NewContext(context.Background(), tenantd.Viewer{Role: tenantd.RoleAdmin})
	for in, want := range map[string]string{
		"SILO workspace at /var/lib/tenantd/workspaces/a.db":    "SILO workspace at (server path)",
		"open data/workspaces/a.db: permission denied":          "open (server path): permission denied",
		`stat "/tmp/x/y": no such file`:                         `stat "(server path)": no such file`,
		"download at https://tenantd.example/exports/a/archive": "download at https://tenantd.example/exports/a/archive",
		"POOL workspace ready":                                  "POOL workspace ready",
		"failed: payment declined (card_declined)":              "failed: payment declined (card_declined)",
		"tenant_0123 schema created, 3/4 steps":                 "tenant_0123 schema created, 3/4 steps",
	} {
		require.Equal(t, want, scrubFor(tenant, in), in)
		require.Equal(t, in, scrubFor(admin, in), in)
	}
}
