// Package servertest starts the real tenantd server on 127.0.0.1:0 over a
// fresh database of a given kind, and talks GraphQL to it over real HTTP.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/storetest"
)

// AdminToken is the bootstrap admin token of test servers.
const AdminToken = "tda_test_bootstrap_admin_token_0123456789"

// Server is a running test server.
type Server struct {
	*server.Server
	URL  string
	Kind storetest.Kind
}

// Start starts a server on a fresh database of kind k. env adds or
// overrides configuration variables ("NAME=value"). The server shuts down
// when the test ends.
func Start(t testing.TB, k storetest.Kind, env ...string) *Server {
	t.Helper()
	return StartWith(t, k, env, nil)
}

// StartWith is Start with server options (test hooks).
func StartWith(t testing.TB, k storetest.Kind, env []string, opts []server.Option) *Server {
	t.Helper()
	environ := []string{
		"TENANTD_ADDR=127.0.0.1:0",
		"TENANTD_DATA_DIR=" + t.TempDir(),
		"TENANTD_ADMIN_TOKEN=" + AdminToken,
		"TENANTD_ENV=development",
	}
	if k == storetest.Postgres {
		environ = append(environ, "DATABASE_URL="+storetest.NewPostgresDatabase(t))
	}
	environ = append(environ, env...)
	// The schema owner runs the migrations; the server connects as AppRole.
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], "DATABASE_URL="); ok {
			environ = append(environ, "TENANTD_OWNER_DATABASE_URL="+storetest.OwnerURL(v))
			break
		}
	}
	cfg, err := config.Load(environ, nil)
	require.NoError(t, err)
	ctx := context.Background()
	srv, err := server.Open(ctx, cfg, Logger(), opts...)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Logf("shutdown: %v", err)
		}
	})
	return &Server{Server: srv, URL: srv.URL(), Kind: k}
}

// WaitSubscribers waits until the server holds at least n event-hub
// subscriptions: a subscription is in place once its stream subscribed.
func (s *Server) WaitSubscribers(t testing.TB, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.Subscribers() >= n }, 10*time.Second, time.Millisecond,
		"the server holds %d subscriptions, want %d", s.Subscribers(), n)
}

// Logger returns the logger of test servers: warnings and errors to stderr,
// everything with TENANTD_TEST_LOG=debug.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TENANTD_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is a GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the extensions.code of the first error, or "".
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Decode unmarshals the data into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected GraphQL errors")
	require.NoError(t, json.Unmarshal(r.Data, v))
}

// Do posts a GraphQL request with token as bearer (none if empty).
func (s *Server) Do(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return s.Raw(t, token, "application/json", body)
}

// Raw posts a raw body to /graphql.
func (s *Server) Raw(t testing.TB, token, contentType string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// Get sends a GraphQL query as GET.
func (s *Server) Get(t testing.TB, token, rawQuery string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+rawQuery, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

func send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &Response{Status: resp.StatusCode}
	require.NoError(t, json.Unmarshal(b, out), "response body: %s", b)
	return out
}

// MustDo is Do that fails the test on GraphQL errors and decodes into v.
func (s *Server) MustDo(t testing.TB, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.Do(t, token, query, vars)
	if len(r.Errors) > 0 {
		require.FailNow(t, fmt.Sprintf("GraphQL errors: %+v", r.Errors))
	}
	if v != nil {
		require.NoError(t, json.Unmarshal(r.Data, v))
	}
}
