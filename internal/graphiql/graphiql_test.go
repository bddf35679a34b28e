package graphiql_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/graphiql"
)

// The embedded builds are those of the npm packages pinned in clients/js:
// vendor/VERSIONS names each file's package@version, and the file's
// SHA-256 matches it.
func TestAssetsAreThePinnedPackages(t *testing.T) {
	var pkg struct{ Dependencies map[string]string }
	b, err := os.ReadFile(filepath.Join("..", "..", "clients", "js", "package.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg))

	f, err := os.Open(filepath.Join("static", "vendor", "VERSIONS"))
	require.NoError(t, err)
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fields := strings.Fields(line)
		require.Len(t, fields, 4, line)
		name, pkgVersion, sum := fields[0], fields[1], fields[3]
		at := strings.LastIndex(pkgVersion, "@")
		require.Equal(t, pkg.Dependencies[pkgVersion[:at]], pkgVersion[at+1:], "%s is not the version clients/js pins: run make graphiql-assets", name)
		content, err := os.ReadFile(filepath.Join("static", "vendor", name))
		require.NoError(t, err)
		got := sha256.Sum256(content)
		require.Equal(t, sum, hex.EncodeToString(got[:]), "%s differs from the package's file: run make graphiql-assets", name)
		seen[name] = true
	}
	for _, name := range []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"} {
		require.True(t, seen[name], "VERSIONS lists %s", name)
	}
	entries, err := os.ReadDir(filepath.Join("static", "vendor"))
	require.NoError(t, err)
	require.Len(t, entries, len(seen)+1, "vendor/ holds only the files VERSIONS lists")
}

func page(t *testing.T, h http.Handler, remote, host string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/graphiql", nil)
	req.Host = host
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// The development token is prefilled only for a browser on this machine
// that names a loopback host, and the page loads nothing from elsewhere.
func TestPage(t *testing.T) {
	const tok = "tda_dev_token_for_the_page_test_0000"
	h := graphiql.Handler(graphiql.Options{Endpoint: "/graphql", DevToken: func() string { return tok }})
	for _, c := range []struct {
		remote, host string
		prefilled    bool
	}{
		{"127.0.0.1:50000", "127.0.0.1:8080", true},
		{"127.0.0.1:50000", "localhost:8080", true},
		{"[::1]:50000", "[::1]:8080", true},
		{"127.0.0.1:50000", "tenantd.localhost:8080", true},
		{"10.1.2.3:50000", "127.0.0.1:8080", false},            // from the network
		{"192.168.1.9:50000", "192.168.1.2:8080", false},       // listening on every interface
		{"127.0.0.1:50000", "rebound.example.com:8080", false}, // DNS rebinding
		{"127.0.0.1:50000", "127.0.0.1.nip.io:8080", false},
	} {
		resp := page(t, h, c.remote, c.host)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		html := body(t, resp)
		require.Equal(t, c.prefilled, strings.Contains(html, tok), "%s asking for %s", c.remote, c.host)
	}
	none := graphiql.Handler(graphiql.Options{Endpoint: "/graphql"})
	require.NotContains(t, body(t, page(t, none, "127.0.0.1:1", "127.0.0.1:8080")), "Bearer")

	resp := page(t, h, "127.0.0.1:50000", "127.0.0.1:8080")
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self';")
	require.Regexp(t, `style-src 'self' 'nonce-[A-Za-z0-9+/]{22}';`, csp)
	require.Contains(t, csp, "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;")
	require.NotContains(t, csp, "http")
	require.NotContains(t, csp, "unsafe")
	html := body(t, resp)
	require.NotRegexp(t, `<script>|style=|https?://`, html, "no inline script or style, nothing from another origin")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	require.GreaterOrEqual(t, len(refs), 6)
	for _, ref := range refs {
		if ref[1] == "/favicon.svg" {
			continue // the console's
		}
		req := httptest.NewRequest(http.MethodGet, ref[1], nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, ref[1])
		require.NotEmpty(t, rec.Header().Get("ETag"))
	}
	// A hostile Host does not reach the CSP.
	resp = page(t, h, "127.0.0.1:50000", "a;script-src *")
	require.NotContains(t, resp.Header.Get("Content-Security-Policy"), "script-src *")
	// Only files: no listing, no template.
	for _, p := range []string{"/graphiql/vendor/", "/graphiql/index.html", "/graphiql/nope.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		require.Equal(t, http.StatusNotFound, rec.Code, p)
	}
}
