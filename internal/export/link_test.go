package export_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/ent/admintoken"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/ent/exportdownload"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

type got struct {
	status int
	body   []byte
	header http.Header
}

func get(t *testing.T, srv *httptest.Server, path, token string) got {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return got{resp.StatusCode, body, resp.Header}
}

// TestDownloadLinks: a signed link downloads the archive and is logged;
// a tampered, expired or re-aimed link, an unknown export and another
// tenant's key get the same 403 with nothing served; the tenant's own key
// and an admin token download without a signature.
func TestDownloadLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db, export.Hooks{})
		srv := httptest.NewServer(b.svc.Handler())
		t.Cleanup(srv.Close)
		id, other := b.tenant(t, plans.Starter), b.tenant(t, plans.Starter)
		b.fill(t, id, map[string]string{"a": "alpha"})
		b.fill(t, other, map[string]string{"b": "beta"})
		exp, otherExp := b.export(t, id, "JSON"), b.export(t, other, "JSON")
		raw, err := os.ReadFile(b.archivePath(exp))
		require.NoError(t, err)

		link := b.svc.Link(exp)
		require.True(t, strings.HasPrefix(link, "/exports/"+exp.ID.String()+"?"), link)
		ok := get(t, srv, link, "")
		require.Equal(t, http.StatusOK, ok.status)
		require.Equal(t, raw, ok.body)
		require.Equal(t, "application/zip", ok.header.Get("Content-Type"))
		require.Contains(t, ok.header.Get("Content-Disposition"), "attachment; filename=")
		require.Equal(t, len(raw), atoi(t, ok.header.Get("Content-Length")))
		dl, err := db.Ent.ExportDownload.Query().Where(exportdownload.ExportID(exp.ID)).Only(sys)
		require.NoError(t, err)
		require.Equal(t, "link:"+exp.ID.String(), dl.Actor)
		require.EqualValues(t, len(raw), dl.Bytes)
		require.Equal(t, b.clock.Now().UTC(), dl.DownloadedAt.UTC(), "the download time is the injected clock's")

		u, err := url.Parse(link)
		require.NoError(t, err)
		q := u.Query()
		tampered := func(f func(q url.Values) string) string {
			c := url.Values{}
			for k, v := range q {
				c[k] = v
			}
			return f(c)
		}
		ownKey, _, err := auth.IssueAPIKey(sys, db.Ent, id, "reader", "test")
		require.NoError(t, err)
		otherKey, _, err := auth.IssueAPIKey(sys, db.Ent, other, "reader", "test")
		require.NoError(t, err)
		partner, _, err := b.auth.CreateAdminToken(sys, admintoken.RolePARTNER, "partner")
		require.NoError(t, err)
		refused := map[string]struct{ path, token string }{
			"no signature": {"/exports/" + exp.ID.String(), ""},
			"tampered signature": {tampered(func(c url.Values) string {
				s := c.Get("sig")
				c.Set("sig", flip(s))
				return "/exports/" + exp.ID.String() + "?" + c.Encode()
			}), ""},
			"later expiry": {tampered(func(c url.Values) string {
				c.Set("expires", strconv.Itoa(atoi(t, c.Get("expires"))+3600))
				return "/exports/" + exp.ID.String() + "?" + c.Encode()
			}), ""},
			"another export's id":  {"/exports/" + otherExp.ID.String() + "?" + q.Encode(), ""},
			"unknown export":       {"/exports/" + "0190a0a0-0000-7000-8000-000000000000" + "?" + q.Encode(), ""},
			"not an id":            {"/exports/..%2f..%2fetc?" + q.Encode(), ""},
			"another tenant's key": {"/exports/" + exp.ID.String(), otherKey},
			"a partner token":      {"/exports/" + exp.ID.String(), partner},
			"a bad token":          {"/exports/" + exp.ID.String(), "tdk_not_a_key"},
		}
		var forbidden []byte
		for name, r := range refused {
			g := get(t, srv, r.path, r.token)
			require.Equal(t, http.StatusForbidden, g.status, name)
			require.NotContains(t, string(g.body), "PK", name)
			if forbidden == nil {
				forbidden = g.body
			}
			require.Equal(t, forbidden, g.body, "%s: every refusal looks the same", name)
		}
		mine := get(t, srv, "/exports/"+exp.ID.String(), ownKey)
		require.Equal(t, http.StatusOK, mine.status, "the tenant's own API key")
		require.Equal(t, raw, mine.body)
		adm, _, err := b.auth.CreateAdminToken(sys, admintoken.RoleADMIN, "admin")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, get(t, srv, "/exports/"+otherExp.ID.String(), adm).status, "an admin token")
		n, err := db.Ent.ExportDownload.Query().Where(exportdownload.ExportID(exp.ID)).Count(sys)
		require.NoError(t, err)
		require.Equal(t, 2, n, "each download is logged, refusals are not")

		// The link dies with the export's expiry (the clock, not the wall).
		b.clock.Advance(export.DefaultTTL - time.Second)
		require.Equal(t, http.StatusOK, get(t, srv, link, "").status, "still valid a second before")
		b.clock.Advance(time.Second)
		require.Equal(t, http.StatusForbidden, get(t, srv, link, "").status, "expired")
		require.Equal(t, http.StatusForbidden, get(t, srv, "/exports/"+exp.ID.String(), ownKey).status, "an expired export is not served to a key either")
	})
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestSweep: the sweep deletes the archives past their expiry, marks them
// EXPIRED, leaves the others, and does nothing the second time.
func TestSweep(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db, export.Hooks{})
		id := b.tenant(t, plans.Starter)
		b.fill(t, id, map[string]string{"a": "alpha"})
		old := b.export(t, id, "JSON")
		b.clock.Advance(24 * time.Hour)
		young := b.export(t, id, "CSV")
		n, err := b.svc.Sweep(sys)
		require.NoError(t, err)
		require.Zero(t, n, "nothing due")
		b.clock.Advance(export.DefaultTTL - 24*time.Hour)
		n, err = b.svc.Sweep(sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = os.Stat(b.archivePath(old))
		require.True(t, os.IsNotExist(err), "the expired archive is deleted")
		_, err = os.Stat(b.archivePath(young))
		require.NoError(t, err, "the other is kept")
		gone, err := db.Ent.Export.Get(sys, old.ID)
		require.NoError(t, err)
		require.Equal(t, entexport.StatusEXPIRED, gone.Status)
		require.NotNil(t, gone.DeletedAt)
		require.Empty(t, b.svc.Link(gone), "no link for an expired export")
		n, err = b.svc.Sweep(sys)
		require.NoError(t, err)
		require.Zero(t, n, "a second sweep finds nothing")
	})
}

// TestDeleteTenantExports: the purge's deletion removes every export row,
// download log row and file of the tenant, and nothing of another; run
// again it does nothing.
func TestDeleteTenantExports(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	b := setup(t, db, export.Hooks{})
	id, other := b.tenant(t, plans.Pro), b.tenant(t, plans.Pro)
	b.fill(t, id, map[string]string{"a": "alpha"})
	e1, e2 := b.export(t, id, "JSON"), b.export(t, id, "CSV")
	keep := b.export(t, other, "JSON")
	srv := httptest.NewServer(b.svc.Handler())
	t.Cleanup(srv.Close)
	require.Equal(t, http.StatusOK, get(t, srv, b.svc.Link(e1), "").status)
	for i := 0; i < 2; i++ {
		var files []string
		var rows int
		require.NoError(t, db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
			var err error
			files, rows, err = b.svc.DeleteTenantExports(ctx, tx, id)
			return err
		}))
		if i == 0 {
			require.ElementsMatch(t, []string{b.archivePath(e1), b.archivePath(e2)}, files)
			require.Equal(t, 3, rows, "two exports and one download")
		} else {
			require.Empty(t, files)
			require.Zero(t, rows)
		}
		for _, e := range []string{b.archivePath(e1), b.archivePath(e2)} {
			_, err := os.Stat(e)
			require.True(t, os.IsNotExist(err))
		}
	}
	_, err := os.Stat(b.archivePath(keep))
	require.NoError(t, err, "another tenant's archive is untouched")
	n, err := db.Ent.Export.Query().Where(entexport.TenantID(id)).Count(sys)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, http.StatusForbidden, get(t, srv, "/exports/"+e1.ID.String()+"?expires=1&sig=x", "").status)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
