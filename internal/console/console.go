// Package console serves tenantd's web console: one page, embedded in the
// binary, that talks only to the public GraphQL API and its subscriptions.
//
// The page is plain HTML, CSS and JavaScript modules written by hand under
// static/ (no build step, no external network: the CSP allows only this
// origin). It routes with the URL hash (#/dashboard, #/tenants,
// #/tenants/<id>, #/signup), so the server serves only files.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every console response: scripts,
// styles, images and connections only from this origin (WebSockets to it
// included), no plugins, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// FS returns the console's files (index.html at the root).
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}

// Handler serves the console's files at /. It answers GET and HEAD only
// (405 otherwise) and never lists directories, so it can be mounted at "/"
// for every method.
func Handler() http.Handler {
	files := FS()
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/"+p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	server := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if p == "/" {
			p = "/index.html"
		}
		etag, ok := etags[p]
		if !ok {
			// Unknown files and directories: 404, never a listing.
			http.NotFound(w, r)
			return
		}
		// Always revalidate: a new binary must never run old scripts against a
		// new API. The ETag makes revalidation cheap (304).
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		server.ServeHTTP(w, r)
	})
}
