package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestGraphQLOverHTTPAudit runs the GraphQL over HTTP specification's own
// server audit suite (the npm graphql-http package's auditServer, through
// clients/js/http-audit.mjs) against the real server: every audit must
// pass, with no error and no warning, for an admin token and for an
// anonymous caller.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	node, dir := jsClients(t, "graphql-http")

	srv := servertest.Start(t, storetest.SQLite)
	for _, c := range []struct{ name, token string }{{"admin", servertest.AdminToken}, {"anonymous", ""}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := []string{"http-audit.mjs", srv.URL + "/graphql"}
			if c.token != "" {
				args = append(args, c.token)
			}
			cmd := exec.CommandContext(ctx, node, args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			t.Logf("graphql-http audit (%s):\n%s", c.name, out)
			require.NoError(t, err, "the audit reported errors or warnings (see above)")
			require.Regexp(t, `\n\d+ audits: \d+ ok, 0 notices, 0 warnings, 0 errors\n$`, string(out))
		})
	}
}

// TestGraphQLOverHTTPStatus checks the status codes, media types and
// response shapes GraphQL over HTTP asks for, request by request.
func TestGraphQLOverHTTPStatus(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	const gqlResp = "application/graphql-response+json"

	type answer struct {
		status      int
		contentType string
		header      http.Header
		body        map[string]json.RawMessage
		code        string
	}
	do := func(t *testing.T, method, query, token, contentType, accept string, body string) answer {
		t.Helper()
		u := srv.URL + "/graphql"
		if query != "" {
			u += "?" + query
		}
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		require.NoError(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), header: resp.Header}
		require.NoError(t, json.Unmarshal(b, &a.body), "body: %s", b)
		var errs []struct {
			Extensions struct{ Code string }
		}
		if raw, ok := a.body["errors"]; ok {
			require.NoError(t, json.Unmarshal(raw, &errs))
			require.NotEmpty(t, errs)
			a.code = errs[0].Extensions.Code
			require.NotEmpty(t, a.code, "every error carries extensions.code: %s", b)
		}
		return a
	}
	get := func(t *testing.T, token, accept string, params ...string) answer {
		q := url.Values{}
		for i := 0; i+1 < len(params); i += 2 {
			q.Set(params[i], params[i+1])
		}
		return do(t, http.MethodGet, q.Encode(), token, "", accept, "")
	}
	post := func(t *testing.T, token, accept, body string) answer {
		return do(t, http.MethodPost, "", token, "application/json", accept, body)
	}
	admin := servertest.AdminToken

	t.Run("a mutation over GET is 405 with Allow: POST, whoever asks and whatever else is wrong", func(t *testing.T) {
		for _, c := range []struct{ token, query, opName string }{
			{admin, `mutation { runReadinessChecks { status } }`, ""},
			{"", `mutation { runReadinessChecks { status } }`, ""}, // anonymous
			{admin, `mutation { nope }`, ""},                       // also invalid
			{admin, `query Q { plans { key } } mutation M { runReadinessChecks { status } }`, "M"},
			{admin, `subscription { tenantEvents { __typename } }`, ""},
		} {
			for _, accept := range []string{"", "application/json", gqlResp} {
				a := get(t, c.token, accept, "query", c.query, "operationName", c.opName)
				require.Equal(t, http.StatusMethodNotAllowed, a.status, "%s (Accept %q)", c.query, accept)
				require.Equal(t, "POST", a.header.Get("Allow"))
				require.Equal(t, "INVALID_INPUT", a.code)
				require.NotContains(t, a.body, "data")
			}
		}
		// A persisted mutation (automatic persisted queries) over GET too.
		const persisted = `mutation { runReadinessChecks { status } }`
		sum := sha256.Sum256([]byte(persisted))
		ext := `{"persistedQuery": {"version": 1, "sha256Hash": "` + hex.EncodeToString(sum[:]) + `"}}`
		a := post(t, admin, "", `{"query": "`+persisted+`", "extensions": `+ext+`}`)
		require.Equal(t, http.StatusOK, a.status, "registered over POST")
		a = get(t, admin, "", "extensions", ext)
		require.Equal(t, http.StatusMethodNotAllowed, a.status)
		require.Equal(t, "POST", a.header.Get("Allow"))
		require.NotContains(t, a.body, "data")
		// The query of the same document over GET runs.
		a = get(t, admin, "", "query", `query Q { plans { key } } mutation M { runReadinessChecks { status } }`, "operationName", "Q")
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, string(a.body["data"]), `"plans"`)
		// A mutation over POST runs.
		a = post(t, admin, "", `{"query": "mutation { runReadinessChecks { status } }"}`)
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, string(a.body["data"]), "runReadinessChecks")
	})

	t.Run("Accept picks the media type; 406 when it allows neither", func(t *testing.T) {
		q := `{"query": "{ plans { key } }"}`
		for accept, want := range map[string]string{
			"":                                   "application/json",
			"application/json":                   "application/json",
			"*/*":                                "application/json",
			"application/*":                      "application/json",
			gqlResp:                              gqlResp,
			gqlResp + ", application/json":       gqlResp,
			"application/json, " + gqlResp:       "application/json",
			"application/json;q=0.5, " + gqlResp: gqlResp,
			gqlResp + ";q=0, */*":                "application/json",
			"application/json;q=0, */*":          gqlResp,
			"text/html, */*;q=0.8":               "application/json", // a browser
			"application/json, multipart/mixed":  "application/json", // GraphiQL
		} {
			a := post(t, admin, accept, q)
			require.Equal(t, http.StatusOK, a.status, "Accept %q", accept)
			require.Equal(t, want+"; charset=utf-8", a.contentType, "Accept %q", accept)
			require.Contains(t, string(a.body["data"]), `"plans"`)
		}
		for _, accept := range []string{"text/html", "multipart/mixed", "application/xml, text/plain;q=0.5", "application/json;q=0"} {
			a := post(t, admin, accept, q)
			require.Equal(t, http.StatusNotAcceptable, a.status, "Accept %q", accept)
			require.Equal(t, "INVALID_INPUT", a.code)
			a = get(t, admin, accept, "query", "{ plans { key } }")
			require.Equal(t, http.StatusNotAcceptable, a.status, "GET, Accept %q", accept)
		}
	})

	t.Run("a body that is not UTF-8 JSON is 415", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/graphql", "application/json; charset=iso-8859-1"} {
			a := do(t, http.MethodPost, "", admin, ct, "", `{"query": "{ plans { key } }"}`)
			require.Equal(t, http.StatusUnsupportedMediaType, a.status, "Content-Type %q", ct)
			require.Equal(t, "INVALID_INPUT", a.code)
		}
		a := do(t, http.MethodPost, "", admin, "application/json; charset=UTF-8", "", `{"query": "{ plans { key } }"}`)
		require.Equal(t, http.StatusOK, a.status)
	})

	t.Run("a malformed request is 400 under both media types", func(t *testing.T) {
		for _, accept := range []string{"application/json", gqlResp} {
			for _, body := range []string{`{"query": `, `{"variables": {}}`, `{"query": 1}`, `[{"query": "{ plans { key } }"}]`, `{"query": "{ plans { key } }", "variables": []}`} {
				a := post(t, admin, accept, body)
				require.Equal(t, http.StatusBadRequest, a.status, "%s (Accept %s)", body, accept)
				require.Equal(t, "INVALID_INPUT", a.code)
				require.NotContains(t, a.body, "data")
			}
			a := get(t, admin, accept)
			require.Equal(t, http.StatusBadRequest, a.status, "GET without query")
			a = get(t, admin, accept, "query", "{ plans { key } }", "variables", "[1]")
			require.Equal(t, http.StatusBadRequest, a.status, "GET with variables not an object")
		}
	})

	t.Run("parse, validation and variable errors: 400 without data under graphql-response+json, 200 under application/json", func(t *testing.T) {
		for _, body := range []string{
			`{"query": "{"}`,        // parse
			`{"query": "{ nope }"}`, // validation
			`{"query": "query($n: Int) { tenants(first: $n) { totalCount } }", "variables": {"n": "ten"}}`, // coercion
			`{"query": "query($n: Int!) { tenants(first: $n) { totalCount } }"}`,                           // missing variable
			`{"query": "query A { plans { key } } query B { plans { key } }"}`,                             // which operation?
		} {
			a := post(t, admin, gqlResp, body)
			require.Equal(t, http.StatusBadRequest, a.status, body)
			require.Equal(t, gqlResp+"; charset=utf-8", a.contentType)
			require.NotContains(t, a.body, "data", "nothing executed: no data entry")
			require.Equal(t, "INVALID_INPUT", a.code)

			a = post(t, admin, "application/json", body)
			require.Equal(t, http.StatusOK, a.status, body)
			require.NotContains(t, a.body, "data")
			require.Equal(t, "INVALID_INPUT", a.code)
		}
	})

	t.Run("a document of several operations needs operationName, and the message says so", func(t *testing.T) {
		r := srv.Do(t, admin, `query A { plans { key } } query B { plans { key } }`, nil)
		require.Equal(t, "INVALID_INPUT", r.Code())
		require.Equal(t, "operationName", r.Errors[0].Extensions["field"])
		require.Equal(t, "the document holds several operations: name the one to run in operationName", r.Errors[0].Message)
		body := `{"query": "query A { plans { key } }", "operationName": "Z"}`
		r = srv.Raw(t, admin, "application/json", []byte(body))
		require.Equal(t, `operationName "Z" names no operation of the document`, r.Errors[0].Message)
	})

	t.Run("refused before execution: 4xx by code under graphql-response+json, 200 under application/json", func(t *testing.T) {
		a := post(t, "", gqlResp, `{"query": "{ tenants { totalCount } }"}`)
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "Bearer", a.header.Get("WWW-Authenticate"))
		require.Equal(t, "UNAUTHENTICATED", a.code)
		require.NotContains(t, a.body, "data")
		a = post(t, "", "application/json", `{"query": "{ tenants { totalCount } }"}`)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "UNAUTHENTICATED", a.code)

		deep := `{"query": "{ tenants { edges { node { plan { id } transitions { edges { node { tenant { operations { edges { node { tenant { id } } } } } } } } } } } }"}`
		a = post(t, admin, gqlResp, deep)
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "INVALID_INPUT", a.code)

		a = post(t, "tda_wrong_token_000000000000000", gqlResp, `{"query": "{ plans { key } }"}`)
		require.Equal(t, http.StatusUnauthorized, a.status, "a bad token, under either media type")
		require.Equal(t, "Bearer", a.header.Get("WWW-Authenticate"))
	})

	t.Run("executed: 200 with data, errors of fields beside it", func(t *testing.T) {
		for _, accept := range []string{"application/json", gqlResp} {
			a := post(t, admin, accept, `{"query": "{ plans { key } }"}`)
			require.Equal(t, http.StatusOK, a.status)
			require.Contains(t, string(a.body["data"]), `"plans"`)
			require.NotContains(t, a.body, "errors")

			a = post(t, admin, accept, `{"query": "{ tenant(id: \"VGVuYW50OjA=\") { id } plans { key } }"}`)
			require.Equal(t, http.StatusOK, a.status, "a field error after execution began is still 200")
			require.Contains(t, a.body, "data")
		}
	})

	t.Run("other methods are 405", func(t *testing.T) {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			a := do(t, m, "", admin, "application/json", "", `{"query": "{ plans { key } }"}`)
			require.Equal(t, http.StatusMethodNotAllowed, a.status)
			require.Equal(t, "GET, POST, OPTIONS", a.header.Get("Allow"))
		}
	})
}
