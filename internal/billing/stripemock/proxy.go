package stripemock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy stands in front of a stripe-mock: it records every request a test
// sends (so the test sees the parameters and the Idempotency-Key that
// reached Stripe's API, which stripe-mock itself ignores) and can rewrite
// stripe-mock's answers, to give the stateless mock the one piece of state
// or the one error a test needs (a canceled subscription, a declined card,
// a deleted customer).
type Proxy struct {
	// URL is the proxy's base URL, to be used as the Stripe API base.
	URL string

	mu       sync.Mutex
	requests []Request
	rewrites []rewrite
}

// Request is one request that went through the proxy.
type Request struct {
	// Method and Path are the request's, e.g. "POST", "/v1/subscriptions".
	Method, Path string
	// IdempotencyKey is the Idempotency-Key header ("" if none was sent).
	IdempotencyKey string
	// Form holds the form-encoded parameters (of the body and the query).
	Form url.Values
}

// Mutating reports whether the request changes something at Stripe.
func (r Request) Mutating() bool { return r.Method != http.MethodGet }

// String returns "METHOD path".
func (r Request) String() string { return r.Method + " " + r.Path }

// RewriteFunc changes an answer: it gets stripe-mock's status and decoded
// JSON body and returns the ones the client receives.
type RewriteFunc func(status int, body map[string]any) (int, map[string]any)

type rewrite struct {
	method, path string // path may end in "*": a prefix
	fn           RewriteFunc
}

func (w rewrite) matches(method, path string) bool {
	if w.method != method {
		return false
	}
	if prefix, ok := strings.CutSuffix(w.path, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return w.path == path
}

// NewProxy starts a proxy in front of the stripe-mock at apiBase (as
// returned by Start), closed when the test ends.
func NewProxy(t testing.TB, apiBase string) *Proxy {
	t.Helper()
	target, err := url.Parse(apiBase)
	if err != nil {
		t.Fatalf("stripemock: proxy target %q: %v", apiBase, err)
	}
	p := &Proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: p.modify,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form == nil {
			form = url.Values{}
		}
		for k, vs := range r.URL.Query() {
			form[k] = append(form[k], vs...)
		}
		p.mu.Lock()
		p.requests = append(p.requests, Request{
			Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form,
		})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Requests returns the requests so far, in the order they arrived.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Mutations returns the requests so far that change something (all but
// GET).
func (p *Proxy) Mutations() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Mutating() {
			out = append(out, r)
		}
	}
	return out
}

// Rewrite has fn change every later answer to method on path (a path
// ending in "*" is a prefix). Rewrites apply in the order they were added.
func (p *Proxy) Rewrite(method, path string, fn RewriteFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrites = append(p.rewrites, rewrite{method: method, path: path, fn: fn})
}

// SetFields has every later answer to method on path carry the given
// top-level fields, e.g. {"status": "canceled"}.
func (p *Proxy) SetFields(method, path string, fields map[string]any) {
	p.Rewrite(method, path, func(status int, body map[string]any) (int, map[string]any) {
		for k, v := range fields {
			body[k] = v
		}
		return status, body
	})
}

// Fail has every later request with method on path answered with a Stripe
// error of the given status and error object, e.g. 402 and
// {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}.
func (p *Proxy) Fail(method, path string, status int, stripeError map[string]any) {
	p.Rewrite(method, path, func(int, map[string]any) (int, map[string]any) {
		return status, map[string]any{"error": stripeError}
	})
}

// modify applies the matching rewrites to an answer.
func (p *Proxy) modify(resp *http.Response) error {
	p.mu.Lock()
	var fns []RewriteFunc
	for _, w := range p.rewrites {
		if w.matches(resp.Request.Method, resp.Request.URL.Path) {
			fns = append(fns, w.fn)
		}
	}
	p.mu.Unlock()
	if len(fns) == 0 {
		return nil
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("stripemock: rewrite %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	status := resp.StatusCode
	for _, fn := range fns {
		status, body = fn(status, body)
	}
	out, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Del("Content-Encoding")
	return nil
}
