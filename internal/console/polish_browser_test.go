//go:build unix

package console_test

import (
	"testing"
	"time"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestConsolePolishInBrowser checks the console's finish in Chromium
// (clients/js/polish.e2e.mjs): the signup form says every mistake at once at
// its field and in words (the server's too, no codes); no select is cut off
// at 1280 or 390 px; dialogs' ways out are named for what they keep; one
// toast per action; no focus box on a heading focused after a navigation;
// whole-number ticks on the histogram's count axis; one rounding for a rate
// in the funnel's chart, table, stats and cohorts; no column of the funnel
// or tenant table cut off at 390 px; and the tenant page's API keys card
// (list, create with the secret shown once, revoke with "Keep key" /
// "Revoke key", the browser's own key signing it out). Screenshots go to
// test-artifacts/console-polish/.
func TestConsolePolishInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowserRun(t, "console-polish")
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_MOVE_SOURCE_GRACE=0s")
	b.node(t, 2*time.Minute, "polish.e2e.mjs", srv.URL, servertest.AdminToken, b.artifacts)
	b.atLeastShots(t, 10)
}
