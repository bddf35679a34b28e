package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// The regression tests of the hostile-client review (issue 7). A refusal
// must come fast: each is timed against a trivial request in the same test
// and must stay within maxRatio of it (the attacks took thousands of times
// longer), never against an absolute time.
const maxRatio = 100

// baseline is the median time of a trivial authenticated request.
func baseline(t *testing.T, srv *servertest.Server) time.Duration {
	t.Helper()
	return baselineOf(t, srv, 0)
}

// baselineOf is the median time of a trivial request carrying size bytes
// of padding: what merely sending that much costs.
func baselineOf(t *testing.T, srv *servertest.Server, size int) time.Duration {
	t.Helper()
	body := []byte(`{"query": "{ __typename }"}`)
	if size > 0 {
		body = []byte(`{"query": "{ __typename }", "variables": {"pad": "` + strings.Repeat("x", size) + `"}}`)
	}
	var ds []time.Duration
	for range 7 {
		ds = append(ds, timed(func() {
			r := srv.Raw(t, admin, "application/json", body)
			require.Empty(t, r.Errors)
		}))
	}
	slices.Sort(ds)
	return max(ds[len(ds)/2], 200*time.Microsecond)
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// requireCheap fails if took is more than maxRatio times base. A refusal
// that is slow only because the machine was busy (the suite runs tests in
// parallel on two cores) gets two more tries of again; an expensive one
// fails all three.
func requireCheap(t *testing.T, base, took time.Duration, what string, again ...func()) {
	t.Helper()
	for _, f := range again {
		if float64(took)/float64(base) < maxRatio {
			break
		}
		took = min(took, timed(f), timed(f))
	}
	require.Less(t, float64(took)/float64(base), float64(maxRatio),
		"%s took %s, %.0f× a trivial request (%s)", what, took, float64(took)/float64(base), base)
}

// allocated runs f and returns how many bytes this process allocated
// meanwhile (the server runs in it).
// allocated is the fewest bytes the process allocated in three runs of f:
// the counter is the whole process's, so tests running in parallel add to
// one run's figure, but hardly to all three.
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// Finding 2: large input-object variables were coerced (seconds of CPU,
// hundreds of MB) before an anonymous caller was told UNAUTHENTICATED.
func TestHostileVariables(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	const q = `query($w: TenantWhereInput) { tenants(where: $w) { totalCount } }`
	empties := make([]any, 100_000)
	for i := range empties {
		empties[i] = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"w": map[string]any{"or": empties}}})
	require.NoError(t, err)
	sized := baselineOf(t, srv, len(body)) // sending 400 KB costs what it costs

	var r *servertest.Response
	anon := func() { r = srv.Raw(t, "", "application/json", body) }
	took := timed(anon)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "an anonymous caller may send 64 KiB")
	requireCheap(t, sized, took, "an anonymous 100,000-item where", anon)

	byAdmin := func() { r = srv.Raw(t, admin, "application/json", body) }
	took = timed(byAdmin)
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Equal(t, "w.or", r.Errors[0].Extensions["field"])
	require.Contains(t, r.Errors[0].Message, "at most 100")
	requireCheap(t, sized, took, "an admin's 100,000-item where", byAdmin)

	// The anonymous caller is refused before its variables are coerced.
	small, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"w": map[string]any{"or": empties[:100]}}})
	r = srv.Raw(t, "", "application/json", small)
	require.Equal(t, tenantd.EUNAUTHENTICATED, r.Code())
	require.Nil(t, r.Data, "nothing ran: no data entry")

	// Nesting, and the sum of all values.
	deep := map[string]any{}
	for range 20 {
		deep = map[string]any{"not": deep}
	}
	r = srv.Do(t, admin, q, map[string]any{"w": deep})
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Contains(t, r.Errors[0].Message, "nests deeper")
	wide := make([]any, 100)
	for i := range wide {
		wide[i] = map[string]any{"or": empties[:10]}
	}
	r = srv.Do(t, admin, q, map[string]any{"w": map[string]any{"and": wide}})
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Contains(t, r.Errors[0].Message, "input values")

	// The same bounds hold for values written in the document.
	r = srv.Do(t, admin, `{ tenants(where: {or: [`+strings.Repeat("{}, ", 150)+`]}) { totalCount } }`, nil)
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Equal(t, "tenants.where.or", r.Errors[0].Extensions["field"])
}

// Finding 3: a fragment spreading the next one twice, n deep, expanded to
// 2^n fields before the complexity limit refused it.
func TestFragmentBomb(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	base := baseline(t, srv)
	for _, depth := range []int{24, 40} {
		var b strings.Builder
		b.WriteString("query { ...F0 }\n")
		for i := range depth {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", depth)
		for _, token := range []string{"", admin} {
			var r *servertest.Response
			tries := 0
			bomb := func() { // a new text each time: no cached analysis
				tries++
				r = srv.Do(t, token, fmt.Sprintf("# try %d\n%s", tries, b.String()), nil)
			}
			took := timed(bomb)
			require.Equal(t, tenantd.EINVALID, r.Code(), "2^%d fields", depth)
			require.Contains(t, r.Errors[0].Message, "fragments are expanded")
			requireCheap(t, base, took, fmt.Sprintf("a 2^%d fragment bomb", depth), bomb)
		}
	}
}

// Finding 5: any client could send 11 MiB, and an answer could carry
// hundreds of megabytes of document content.
func TestMemoryAmplification(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_MAX_DOCUMENT_BYTES=4194304")
	a := activeTenant(t, srv, "amplify", "pro")
	key := a.SignUp.APIKey

	// Bodies larger than the caller may send are refused without being read.
	big := []byte(`{"query": "{ plans { key } }", "variables": {"pad": "` + strings.Repeat("x", 2<<20) + `"}}`)
	var r *servertest.Response
	n := allocated(func() { r = srv.Raw(t, "", "application/json", big) })
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	require.Less(t, n, uint64(1<<20), "an anonymous 2 MiB body is not read (allocated %d bytes)", n)
	r = srv.Raw(t, admin, "application/json", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "admins send at most 1 MiB")
	// A tenant key may send a large body, but only to upload.
	r = srv.Raw(t, key, "application/json", big)
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Contains(t, r.Errors[0].Message, "only a request that uploads one document")

	content := strings.Repeat("lorem ipsum dolor sit amet ", 1<<20/27)
	srv.MustDo(t, key, `mutation($c: String!) { uploadDocument(input: {title: "big", content: $c}) { document { id } } }`,
		map[string]any{"c": content}, nil)

	// Aliases of one document's content: 100 are over the complexity
	// limit; the 30 under it hit the answer's content budget.
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: documents(first: 1) { edges { node { content } } }", i)
		}
		return b.String() + " }"
	}
	r = srv.Do(t, key, aliases(100), nil)
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Contains(t, r.Errors[0].Message, "complexity")
	body, _ := json.Marshal(map[string]any{"query": aliases(30)})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Less(t, len(raw), 4<<20+2<<20, "the answer stays within the budget (the largest document plus 1 MiB)")
	require.Contains(t, string(raw), "bytes of text")
}

// Finding 6: client mistakes were answered INTERNAL, quoting the body.
func TestClientErrorsAreInvalidInput(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			a := activeTenant(t, srv, "mistakes-"+string(k), "starter")

			cases := []struct {
				name, token string
				body        string
				status      int
				contains    string
			}{
				{"batch", admin, `[{"query": "{ __typename }"}]`, 400, "batched requests are not supported"},
				{"query not a string", admin, `{"query": 5}`, 400, "query must be a string"},
				{"variables not an object", admin, `{"query": "{ __typename }", "variables": [1]}`, 400, "variables must be an object"},
				{"two values", admin, `{"query": "{ __typename }"} {}`, 400, "one JSON object"},
				{"no query", admin, `{"variables": {}}`, 400, "no query"},
				{"bad time", admin, `{"query": "{ tenants(where: {createdAtGT: \"yesterday\"}) { totalCount } }"}`, 200, "createdAtGT"},
				{"or of 1,000", admin, `{"query": "{ tenants(where: {or: [` + strings.Repeat(`{idNEQ: \"`+uuid.NewString()+`\"}, `, 1000) + `]}) { totalCount } }"}`, 0, ""},
				{"NUL in a search", a.SignUp.APIKey, `{"query": "query($q: String!) { searchDocuments(query: $q) { score } }", "variables": {"q": "a\u0000b"}}`, 0, "NUL"},
			}
			for _, c := range cases {
				r := srv.Raw(t, c.token, "application/json", []byte(c.body))
				require.Equal(t, tenantd.EINVALID, r.Code(), "%s: %+v", c.name, r.Errors)
				if c.status != 0 {
					require.Equal(t, c.status, r.Status, c.name)
				}
				if c.contains != "" {
					require.Contains(t, r.Errors[0].Message, c.contains, c.name)
				}
				require.Less(t, len(r.Errors[0].Message), 400, "%s: the message does not quote the request", c.name)
			}
			r := srv.Do(t, admin, `query($ids: [ID!]) { tenants(where: {idIn: $ids}) { totalCount } }`, map[string]any{"ids": make200k()})
			require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
			r = srv.Do(t, admin, `query($ids: [ID!]) { tenants(where: {idIn: $ids}) { totalCount } }`, map[string]any{"ids": make200k()[:5000]})
			require.Equal(t, tenantd.EINVALID, r.Code())
			require.Equal(t, "ids", r.Errors[0].Extensions["field"])
			require.Zero(t, errorCount(t, srv, tenantd.EINTERNAL), "no client mistake counts as an internal error")
		})
	}
}

func make200k() []string {
	out := make([]string, 200_000)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

// errorCount reads tenantd_graphql_errors_total{code} from /metrics.
func errorCount(t *testing.T, srv *servertest.Server, code string) float64 {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, `tenantd_graphql_errors_total{code="`+code+`"} `); ok {
			var f float64
			_, _ = fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// Finding 7: in production the schema leaked through suggestions on input
// fields and enum values.
func TestNoSuggestionsInProduction(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite, "TENANTD_ENV=production")
	for _, q := range []string{
		`{ tenants(where: {stat: ACTIVE}) { totalCount } }`,
		`{ tenants(where: {state: ACTIV}) { totalCount } }`,
		`{ tenants(firts: 1) { totalCount } }`,
		`{ tenantz { id } }`,
		`query($w: TenantWhereInput) { tenants(where: $w) { totalCount } }`,
	} {
		r := srv.Do(t, admin, q, map[string]any{"w": map[string]any{"state": "ACTIV", "stat": 1}})
		require.Equal(t, tenantd.EINVALID, r.Code(), q)
		for _, e := range r.Errors {
			require.NotContains(t, e.Message, "Did you mean", q)
		}
	}
	dev := servertest.Start(t, storetest.SQLite)
	r := dev.Do(t, admin, `{ tenants(where: {state: ACTIV}) { totalCount } }`, nil)
	require.Contains(t, r.Errors[0].Message, "Did you mean", "development keeps the hints")
}

// Finding 8: expensive fields cost what a plain field costs.
func TestCostlyFieldsCostMore(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	var b strings.Builder
	b.WriteString("{")
	for i := range 30 {
		fmt.Fprintf(&b, " f%d: activationFunnel { activated }", i)
	}
	b.WriteString(" }")
	r := srv.Do(t, admin, b.String(), nil)
	require.Equal(t, tenantd.EINVALID, r.Code())
	require.Contains(t, r.Errors[0].Message, "complexity")
	var one struct{ ActivationFunnel struct{ Activated int } }
	srv.MustDo(t, admin, `{ activationFunnel { activated } }`, nil, &one)

	a := activeTenant(t, srv, "costly", "free")
	b.Reset()
	b.WriteString("{")
	for i := range 12 {
		fmt.Fprintf(&b, " s%d: searchDocuments(query: \"x\", first: 100) { snippet }", i)
	}
	b.WriteString(" }")
	r = srv.Do(t, a.SignUp.APIKey, b.String(), nil)
	require.Equal(t, tenantd.EINVALID, r.Code(), "searchDocuments costs by its first")
	require.Contains(t, r.Errors[0].Message, "complexity")

	// billingPeriodEnd is a call to the billing provider per tenant: a
	// page of them is refused before any call is made.
	r = srv.Do(t, admin, `{ tenants(first: 20) { edges { node { billingPeriodEnd } } } }`, nil)
	require.Equal(t, tenantd.EINVALID, r.Code(), "billingPeriodEnd costs a provider call")
	require.Contains(t, r.Errors[0].Message, "complexity")
	var few struct {
		Tenants struct {
			Edges []struct {
				Node struct{ BillingPeriodEnd *time.Time }
			}
		}
	}
	srv.MustDo(t, admin, `{ tenants(first: 5) { edges { node { billingPeriodEnd } } } }`, nil, &few)
	require.NotEmpty(t, few.Tenants.Edges)
}

// Finding 9: the smaller ones.
func TestSmallerFindings(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	a := activeTenant(t, srv, "smaller", "free")

	t.Run("readiness with a tenant key is FORBIDDEN", func(t *testing.T) {
		r := srv.Do(t, a.SignUp.APIKey, `mutation { runReadinessChecks { status } }`, nil)
		require.Equal(t, tenantd.EFORBIDDEN, r.Code())
		require.NotContains(t, r.Errors[0].Message, uuid.Nil.String())
	})

	t.Run("bidirectional overrides are refused", func(t *testing.T) {
		in := signUpInput("rlo-name", "free")
		in["name"] = "Invoice \u202Efdp.exe"
		r := srv.Do(t, "", signUpMutation, map[string]any{"in": in})
		require.Equal(t, tenantd.EINVALID, r.Code())
		require.Equal(t, "name", r.Errors[0].Extensions["field"])
		r = srv.Do(t, admin, fmt.Sprintf(transitionMutation, "suspendTenant"), map[string]any{"id": a.SignUp.Tenant.ID, "reason": "a\u2066b"})
		require.Equal(t, tenantd.EINVALID, r.Code())
		require.Equal(t, "reason", r.Errors[0].Extensions["field"])
		r = srv.Do(t, a.SignUp.APIKey, `mutation { uploadDocument(input: {title: "x\u202Ey", content: "z"}) { document { id } } }`, nil)
		require.Equal(t, tenantd.EINVALID, r.Code())
		require.Equal(t, "title", r.Errors[0].Extensions["field"])
	})

	t.Run("signUp is alone in its operation and lends its viewer to nothing else", func(t *testing.T) {
		r := srv.Do(t, "", `mutation($in: SignUpInput!) { signUp(input: $in) { apiKey } plans: signUp(input: $in) { apiKey } }`,
			map[string]any{"in": signUpInput("ride-along", "free")})
		require.Equal(t, tenantd.EINVALID, r.Code())
		require.Contains(t, r.Errors[0].Message, "only field")
		var d struct {
			SignUp struct {
				Tenant struct {
					Slug        string
					Transitions struct{ Edges []any }
				}
			}
		}
		srv.MustDo(t, "", `mutation($in: SignUpInput!) { signUp(input: $in) { tenant { slug transitions { edges { cursor } } } } }`,
			map[string]any{"in": signUpInput("own-answer", "free")}, &d)
		require.Equal(t, "own-answer", d.SignUp.Tenant.Slug, "the answer resolves as the new tenant")
		require.NotEmpty(t, d.SignUp.Tenant.Transitions.Edges)
	})

	t.Run("mutations over GET are 405", func(t *testing.T) {
		r := srv.Get(t, admin, "query="+strings.ReplaceAll(`mutation { runReadinessChecks { status } }`, " ", "+"))
		require.Equal(t, http.StatusMethodNotAllowed, r.Status)
		require.Equal(t, tenantd.EINVALID, r.Code())
	})
}

// /metrics is for operators: in production behind an admin or partner
// token on the API's address, or on an address of its own.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	get := func(url, token string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	prod := servertest.Start(t, storetest.SQLite, "TENANTD_ENV=production")
	require.Equal(t, http.StatusUnauthorized, get(prod.URL+"/metrics", ""))
	require.Equal(t, http.StatusUnauthorized, get(prod.URL+"/metrics", "tda_wrong_token_000000000000000"))
	require.Equal(t, http.StatusOK, get(prod.URL+"/metrics", admin))

	own := servertest.Start(t, storetest.SQLite, "TENANTD_ENV=production", "TENANTD_METRICS_ADDR=127.0.0.1:0")
	require.NotEmpty(t, own.MetricsURL())
	require.Equal(t, http.StatusOK, get(own.MetricsURL(), ""))
	require.Equal(t, http.StatusNotFound, get(own.URL+"/metrics", admin), "not on the API's address")
}

// activeTenant signs a tenant up and waits until it is ACTIVE.
func activeTenant(t *testing.T, srv *servertest.Server, slug, plan string) signUpAnswer {
	t.Helper()
	var a signUpAnswer
	srv.MustDo(t, "", signUpMutation, map[string]any{"in": signUpInput(slug, plan)}, &a)
	waitState(t, srv, a.SignUp.Tenant.ID, tenantd.StateActive)
	return a
}
