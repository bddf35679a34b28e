package console_test

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/console"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

// TestPage: GET / is the console's page with its security headers, and only
// GET and HEAD of embedded files are served.
func TestPage(t *testing.T) {
	t.Parallel()
	h := console.Handler()

	resp := get(t, h, http.MethodGet, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	csp := resp.Header.Get("Content-Security-Policy")
	require.Equal(t, console.CSP, csp)
	require.Contains(t, csp, "default-src 'self'")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-eval")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.NotEmpty(t, resp.Header.Get("ETag"))
	require.Contains(t, string(body), `<script type="module" src="js/main.js"></script>`)

	// Revalidation with the ETag is a 304.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotModified, rec.Code)

	require.Equal(t, http.StatusOK, get(t, h, http.MethodHead, "/").StatusCode)
	require.Equal(t, http.StatusMethodNotAllowed, get(t, h, http.MethodPost, "/").StatusCode)
	require.Equal(t, http.StatusNotFound, get(t, h, http.MethodGet, "/js/").StatusCode, "no directory listings")
	require.Equal(t, http.StatusNotFound, get(t, h, http.MethodGet, "/nope.js").StatusCode)
}

var (
	// src="…" and href="…" in HTML.
	htmlRef = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
	// import … from '…', export … from '…', import '…', import('…'): the
	// statements start a line (or follow a ";"), so "Data export" in a
	// string is not one.
	jsImport  = regexp.MustCompile(`(?m)(?:^|;)[ \t]*(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?['"]([^'"]+)['"]`)
	jsDynamic = regexp.MustCompile(`\bimport\(\s*['"]([^'"]+)['"]\s*\)`)
	// url(…) in CSS.
	cssURL = regexp.MustCompile(`url\(\s*['"]?([^'")]+)['"]?\s*\)`)
)

// TestReferencedFilesExist follows every reference from index.html — its
// scripts, styles and icons, each module's imports, each stylesheet's urls —
// and requires each file to be embedded, served with the right type, and
// local (the CSP allows nothing else).
func TestReferencedFilesExist(t *testing.T) {
	t.Parallel()
	files := console.FS()
	h := console.Handler()

	seen := map[string]bool{}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		b, err := fs.ReadFile(files, name)
		require.NoError(t, err, "%s is referenced but not embedded", name)

		url := "/" + name
		if name == "index.html" {
			url = "/" // the file server redirects /index.html to /
		}
		resp := get(t, h, http.MethodGet, url)
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
		wantType := mime.TypeByExtension(path.Ext(name))
		require.NotEmpty(t, wantType, "no MIME type for %s", name)
		require.Equal(t, wantType, resp.Header.Get("Content-Type"), "Content-Type of /%s", name)
		if path.Ext(name) == ".js" {
			// Browsers refuse module scripts of any other type.
			require.True(t, strings.HasPrefix(wantType, "text/javascript"), "/%s is served as %s", name, wantType)
		}

		var refs []string
		switch path.Ext(name) {
		case ".html":
			refs = matches(htmlRef, b)
		case ".js":
			refs = append(matches(jsImport, b), matches(jsDynamic, b)...)
		case ".css":
			refs = matches(cssURL, b)
		}
		for _, ref := range refs {
			switch {
			case strings.HasPrefix(ref, "#"), strings.HasPrefix(ref, "data:"):
				continue // hash routes, inline data
			case strings.Contains(ref, "://"), strings.HasPrefix(ref, "//"):
				t.Errorf("%s references %s: the console must not load anything from another origin", name, ref)
				continue
			}
			target := path.Clean(path.Join(path.Dir(name), ref))
			if strings.HasPrefix(ref, "/") {
				target = strings.TrimPrefix(path.Clean(ref), "/")
			}
			require.False(t, strings.HasPrefix(target, ".."), "%s references %s outside the console", name, ref)
			queue = append(queue, target)
		}
	}
	for _, want := range []string{"js/main.js", "js/ws.js", "js/api.js", "js/charts.js", "css/console.css", "js/views/signup.js"} {
		require.True(t, seen[want], "%s is not reachable from index.html", want)
	}

	// Every embedded file is used: nothing stale ships in the binary.
	require.NoError(t, fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !seen[p] {
			t.Errorf("%s is embedded but nothing references it", p)
		}
		return err
	}))
}

func matches(re *regexp.Regexp, b []byte) []string {
	var out []string
	for _, m := range re.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}
