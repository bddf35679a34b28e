// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, for
// development: its page and scripts are embedded in the binary, so it works
// offline and loads nothing from another origin.
//
// static/vendor/ holds the browser builds of the npm packages graphiql
// (3.x, its UMD build), react and react-dom (18.3.1, the last with UMD
// builds), copied byte for byte from the versions pinned in
// clients/js/package.json by scripts/graphiql-assets.sh (`make
// graphiql-assets`, part of `make generate`); static/vendor/VERSIONS names
// each file's package, version and SHA-256. index.html, start.js and
// page.css are tenantd's own.
package graphiql

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

var page = template.Must(template.ParseFS(static, "static/index.html"))

// Options configure the GraphiQL handler.
type Options struct {
	// Endpoint is the path of the GraphQL endpoint.
	Endpoint string
	// DevToken, when it returns a token, is prefilled as the
	// "Authorization: Bearer <token>" header for a browser on this machine
	// (a loopback client asking for a loopback host name or address).
	// Leave it nil in production.
	DevToken func() string
}

// Handler serves the page at /graphiql and its files under /graphiql/.
// It answers GET and HEAD only.
func Handler(opts Options) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/graphiql/"+p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	fileServer := http.StripPrefix("/graphiql/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/graphiql" || r.URL.Path == "/graphiql/" {
			servePage(w, r, opts)
			return
		}
		etag, ok := etags[r.URL.Path]
		if !ok {
			http.NotFound(w, r) // no listing, no index.html under its file name
			return
		}
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		fileServer.ServeHTTP(w, r)
	})
}

func servePage(w http.ResponseWriter, r *http.Request, opts Options) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	data := struct{ Endpoint, Nonce, Headers string }{
		Endpoint: opts.Endpoint,
		Nonce:    base64.RawStdEncoding.EncodeToString(nonce),
	}
	if opts.DevToken != nil && onThisMachine(r) {
		if tok := opts.DevToken(); tok != "" {
			b, _ := json.MarshalIndent(map[string]string{"Authorization": "Bearer " + tok}, "", "  ")
			data.Headers = string(b)
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", CSP(r.Host, data.Nonce))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // it may carry a token
	_, _ = w.Write(buf.Bytes())
}

// CSP is the Content-Security-Policy of the page: scripts, styles, fonts
// and connections only from this origin (its WebSocket included), GraphiQL's
// fonts as data: URLs, and one <style> element GraphiQL's dialogs add,
// allowed by its nonce.
func CSP(host, nonce string) string {
	connect := "'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-" + nonce + "'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src " + connect + "; " +
		"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// validHost reports whether host is a plain host[:port] that can stand in
// a CSP source expression.
func validHost(host string) bool {
	if host == "" {
		return false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune(".-:[]", c):
		default:
			return false
		}
	}
	return true
}

// onThisMachine reports whether the request comes from a loopback address
// and names a loopback host: a development server listening on every
// interface does not hand its admin token to the network, and a page of
// another site that rebinds its name to 127.0.0.1 (DNS rebinding) does
// not get it either.
func onThisMachine(r *http.Request) bool {
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(remote); ip == nil || !ip.IsLoopback() {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
