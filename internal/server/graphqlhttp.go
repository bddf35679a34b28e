package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"golang.org/x/sync/semaphore"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/graph"
)

// Request body limits. A body is read only after its bearer token is
// known, and only as far as that caller may send: an anonymous caller can
// do nothing but sign up, any authenticated request fits in 1 MiB, and only
// a tenant's uploadDocument may carry a document (up to the configured
// maximum plus 1 MiB), a few at a time.
const (
	anonymousBodyLimit = 64 << 10
	bodyLimit          = 1 << 20
	// largeBodiesAtOnce is how many maximum-size upload bodies are held in
	// memory at once; further ones wait for room (up to largeBodyWait).
	largeBodiesAtOnce = 4
	largeBodyWait     = 30 * time.Second
	// A client gets this long to send a body (a large one: largeBodyRead),
	// so a slow sender cannot hold a connection, or a large-body slot, for
	// ever.
	bodyRead      = 15 * time.Second
	largeBodyRead = 2 * time.Minute
	// maxHeaderBytes bounds a request's headers, the URL of a GET included.
	maxHeaderBytes = 64 << 10
)

// requestError is a request refused before GraphQL runs.
type requestError struct {
	status int
	code   string
	field  string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func refuse(status int, code, format string, args ...any) *requestError {
	return &requestError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// largeBodies admits upload bodies beyond bodyLimit by their size, so that
// a burst of them cannot hold gigabytes, and gives the memory back to the
// operating system once the last one is done.
type largeBodies struct {
	sem      *semaphore.Weighted
	max      int64
	inFlight atomic.Int64
	mu       sync.Mutex
	lastFree time.Time
}

func newLargeBodies(max int64) *largeBodies {
	return &largeBodies{sem: semaphore.NewWeighted(largeBodiesAtOnce * max), max: max}
}

func (l *largeBodies) acquire(ctx context.Context, n int64) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, largeBodyWait)
	defer cancel()
	if err := l.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	l.inFlight.Add(1)
	return func() {
		l.sem.Release(n)
		if l.inFlight.Add(-1) == 0 {
			l.freeMemory()
		}
	}, nil
}

// freeMemory returns the heap the large bodies used to the operating
// system, at most every few seconds. Without it the Go runtime keeps the
// pages for minutes and the process's resident size stays at its peak.
func (l *largeBodies) freeMemory() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastFree) < 2*time.Second {
		return
	}
	l.lastFree = time.Now()
	go debug.FreeOSMemory()
}

// readParams reads and decodes the GraphQL request of r for the caller in
// ctx. release, never nil, must be called once the request is answered.
func (s *Server) readParams(ctx context.Context, w http.ResponseWriter, r *http.Request) (_ context.Context, _ *graphql.RawParams, release func(), err error) {
	release = func() {}
	if r.Method == http.MethodGet {
		p, err := paramsFromQuery(r.URL.Query())
		return context.WithValue(ctx, viaGETKey{}, true), p, release, err
	}
	v, authed := tenantd.ViewerFrom(ctx)
	limit, max := int64(anonymousBodyLimit), int64(anonymousBodyLimit)
	if authed {
		limit, max = bodyLimit, bodyLimit
		if v.Role == tenantd.RoleTenant {
			max = s.large.max
		}
	}
	tooLarge := func() error {
		if max > limit {
			return refuse(http.StatusRequestEntityTooLarge, tenantd.EINVALID,
				"the request body is larger than %d bytes (the largest document plus 1 MiB)", max)
		}
		if !authed {
			return refuse(http.StatusRequestEntityTooLarge, tenantd.EINVALID,
				"the request body is larger than %d bytes, the most a request without a bearer token may send", limit)
		}
		return refuse(http.StatusRequestEntityTooLarge, tenantd.EINVALID,
			"the request body is larger than %d bytes; only a tenant API key's uploadDocument may send more", limit)
	}
	if r.ContentLength > max {
		return ctx, nil, release, tooLarge()
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyRead))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	var buf bytes.Buffer
	body := http.MaxBytesReader(nil, r.Body, max)
	large := r.ContentLength > limit
	if large {
		if release, err = s.admitLarge(ctx, r.ContentLength); err != nil {
			return ctx, nil, func() {}, err
		}
		_ = rc.SetReadDeadline(time.Now().Add(largeBodyRead))
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength)) // only once admitted
	}
	if !large {
		// Unknown or small length: read up to the small limit first.
		n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
		if err != nil {
			return ctx, nil, release, readError(err, tooLarge)
		}
		if n > limit {
			if max == limit {
				return ctx, nil, release, tooLarge()
			}
			large = true
			if release, err = s.admitLarge(ctx, max); err != nil {
				return ctx, nil, func() {}, err
			}
			_ = rc.SetReadDeadline(time.Now().Add(largeBodyRead))
		}
	}
	if _, err := buf.ReadFrom(body); err != nil {
		release()
		return ctx, nil, func() {}, readError(err, tooLarge)
	}
	if large {
		ctx = graph.WithLargeBody(ctx, limit)
	}
	if err := s.scanBody(buf.Bytes()); err != nil {
		release()
		return ctx, nil, func() {}, err
	}
	p, err := decodeParams(buf.Bytes())
	if err != nil {
		release()
		return ctx, nil, func() {}, err
	}
	return ctx, p, release, nil
}

func (s *Server) admitLarge(ctx context.Context, n int64) (func(), error) {
	release, err := s.large.acquire(ctx, n)
	if err != nil {
		return nil, refuse(http.StatusServiceUnavailable, tenantd.EINVALID,
			"too many large uploads are being received at once; retry in a few seconds")
	}
	return release, nil
}

func readError(err error, tooLarge func() error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge()
	}
	return refuse(http.StatusBadRequest, tenantd.EINVALID, "could not read the request body")
}

// scanBody walks the body's structure — brackets, braces and the extent of
// strings, building nothing — and refuses lists, nesting and value counts
// beyond the Guard's bounds before the body is decoded: decoding 100,000
// empty objects costs ten times what walking them does, and allocates for
// each. encoding/json's Token walk would do, but it buffers and copies every
// string token whole, which for a 10 MiB upload is 40 MB of garbage. This
// is not a JSON parser: anything malformed is left to decodeParams to
// report. (The Guard checks the decoded variables again, for the WebSocket
// transport and for NUL characters.)
func (s *Server) scanBody(body []byte) error {
	g := s.guard
	type frame struct {
		array bool
		items int
		key   string // in an object: the key whose value is being read
	}
	var stack []frame
	// path names the value being read, as the variables name it (below the
	// request's own object and its "variables" member).
	path := func() string {
		var parts []string
		for i := 1; i < len(stack); i++ {
			if stack[i].key != "" {
				parts = append(parts, stack[i].key)
			}
		}
		return strings.Join(parts, ".")
	}
	values := 0
	// value counts one value beginning; open says it is an object or list.
	value := func(open bool, array bool) error {
		values++
		if values > g.MaxInputValues+8 { // +8: the request's own members
			return refuse(http.StatusBadRequest, tenantd.EINVALID,
				"the request holds more than %d input values; split it into smaller requests", g.MaxInputValues)
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].array {
			if stack[top].items++; stack[top].items > g.MaxListItems {
				return refuseField(path(), "%s has more than %d items; a list may hold at most %d", path(), g.MaxListItems, g.MaxListItems)
			}
		}
		if open {
			stack = append(stack, frame{array: array})
			if len(stack) > g.MaxInputDepth+2 {
				return refuseField(path(), "%s nests deeper than %d levels", path(), g.MaxInputDepth)
			}
		} else if top >= 0 && !stack[top].array {
			stack[top].key = "" // a scalar member's value is done
		}
		return nil
	}
	for i := 0; i < len(body); {
		switch c := body[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
		case '"':
			end := stringEnd(body, i)
			if end < 0 {
				return nil
			}
			if top := len(stack) - 1; top >= 0 && !stack[top].array && stack[top].key == "" {
				stack[top].key = string(body[i+1 : min(end-1, i+1+64)]) // a member's key
			} else if err := value(false, false); err != nil {
				return err
			}
			i = end
		case '{', '[':
			if err := value(true, c == '['); err != nil {
				return err
			}
			i++
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
			if top := len(stack) - 1; top >= 0 && !stack[top].array {
				stack[top].key = "" // that member's value is done
			}
			i++
		default: // a number, true, false or null
			if err := value(false, false); err != nil {
				return err
			}
			for i < len(body) && !strings.ContainsRune(" \t\n\r,]}", rune(body[i])) {
				i++
			}
		}
	}
	return nil
}

// stringEnd returns the index after the string starting at body[start]
// (a quote), or -1 if it does not end.
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func refuseField(field, format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, code: tenantd.EINVALID, field: field, msg: fmt.Sprintf(format, args...)}
}

// wireRequest is a GraphQL-over-HTTP request body. Pointers tell a member
// that is absent from one that is null.
type wireRequest struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

var memberTypes = map[string]string{
	"query": "a string", "operationName": "a string", "variables": "an object", "extensions": "an object",
}

// decodeParams decodes a request body, refusing anything that is not one
// JSON object with members of the right types; the message names what is
// wrong, never quotes the body.
func decodeParams(body []byte) (*graphql.RawParams, error) {
	bad := func(format string, args ...any) error {
		return refuse(http.StatusBadRequest, tenantd.EINVALID, format, args...)
	}
	if !utf8.Valid(body) {
		return nil, bad("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var w wireRequest
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "" && te.Value == "array":
			return nil, bad("batched requests are not supported: send one operation per request, as a JSON object {\"query\": \"…\"}")
		case errors.As(err, &te) && te.Field == "":
			return nil, bad("the request body must be a JSON object like {\"query\": \"…\"}, not %s", jsonKind(te.Value))
		case errors.As(err, &te) && memberTypes[te.Field] != "":
			return nil, bad("%s must be %s, not %s", te.Field, memberTypes[te.Field], jsonKind(te.Value))
		case errors.As(err, &te):
			return nil, bad("%s has the wrong type (%s)", te.Field, jsonKind(te.Value))
		}
		return nil, bad("the request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("the request body must hold one JSON object and nothing after it")
	}
	return toParams(w)
}

func toParams(w wireRequest) (*graphql.RawParams, error) {
	p := &graphql.RawParams{Variables: w.Variables, Extensions: w.Extensions}
	if w.Query != nil {
		p.Query = *w.Query
	}
	if w.OperationName != nil {
		p.OperationName = *w.OperationName
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, refuse(http.StatusBadRequest, tenantd.EINVALID, "the request has no query: send {\"query\": \"…\"}")
	}
	return p, nil
}

func jsonKind(v string) string {
	switch v {
	case "array", "object":
		return "an " + v
	case "number", "string":
		return "a " + v
	case "bool":
		return "a boolean"
	}
	return v
}

// paramsFromQuery reads the parameters of a GET request.
func paramsFromQuery(q url.Values) (*graphql.RawParams, error) {
	if q.Get("query") == "" && q.Get("extensions") == "" {
		return nil, refuse(http.StatusBadRequest, tenantd.EINVALID,
			"GET /graphql needs a query parameter; send mutations as POST with a JSON body")
	}
	var w wireRequest
	if q.Has("query") {
		s := q.Get("query")
		w.Query = &s
	}
	if q.Has("operationName") {
		s := q.Get("operationName")
		w.OperationName = &s
	}
	for name, dst := range map[string]*map[string]any{"variables": &w.Variables, "extensions": &w.Extensions} {
		raw := q.Get(name)
		if raw == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return nil, refuse(http.StatusBadRequest, tenantd.EINVALID, "the %s parameter is not a JSON object", name)
		}
	}
	for _, s := range []*string{w.Query, w.OperationName} {
		if s != nil && (!utf8.ValidString(*s) || strings.IndexByte(*s, 0) >= 0) {
			return nil, refuse(http.StatusBadRequest, tenantd.EINVALID, "the query parameters must be valid UTF-8 text")
		}
	}
	return toParams(w)
}

type paramsKey struct{}

// httpTransport is tenantd's GraphQL-over-HTTP transport for GET and POST.
// The endpoint has already authenticated the caller and read and decoded
// the body (gqlgen's own POST transport would read it a second time and,
// when it cannot decode it, answer INTERNAL quoting the whole body).
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

// Supports implements graphql.Transport: requests the endpoint prepared.
func (httpTransport) Supports(r *http.Request) bool {
	_, ok := r.Context().Value(paramsKey{}).(*graphql.RawParams)
	return ok
}

// Do implements graphql.Transport.
func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	params := ctx.Value(paramsKey{}).(*graphql.RawParams)
	mediaType := mediaTypeFrom(ctx)
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := refusalStatus(resp, mediaType)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
		w.WriteHeader(status)
		writeRefusal(w, resp)
		return
	}
	if via, _ := ctx.Value(viaGETKey{}).(bool); via && rc.Operation.Operation != ast.Query {
		// A persisted query's text is known only now (the endpoint refused
		// every other mutation over GET before authenticating).
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		msg := getOnlyQueries(rc.Operation.Operation)
		err := &gqlerror.Error{Message: msg, Err: &tenantd.Error{Code: tenantd.EINVALID, Message: msg}}
		writeRefusal(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{err}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// getOnlyQueries is the refusal of a mutation or subscription sent over GET.
func getOnlyQueries(op ast.Operation) string {
	if op == ast.Subscription {
		return "subscriptions need a WebSocket to /graphql (graphql-transport-ws); GET carries queries only"
	}
	return string(op) + " operations need POST with a JSON body; GET carries queries only"
}

// getOperation is the kind of operation a GET request's query and
// operationName select, or "" when the document does not parse or names
// no such operation (the request then fails as it would over POST).
func getOperation(q url.Values) ast.Operation {
	text := q.Get("query")
	if text == "" {
		return ""
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: text}, parserTokenLimit)
	if err != nil {
		return ""
	}
	name := q.Get("operationName")
	if name == "" && len(doc.Operations) != 1 {
		return ""
	}
	if op := doc.Operations.ForName(name); op != nil {
		return op.Operation
	}
	return ""
}

const graphqlResponseJSON = "application/graphql-response+json"

type mediaTypeKey struct{}

// mediaTypeFrom is the response media type the endpoint negotiated.
func mediaTypeFrom(ctx context.Context) string {
	if mt, ok := ctx.Value(mediaTypeKey{}).(string); ok {
		return mt
	}
	return "application/json"
}

// negotiate picks the response media type for an Accept header, following
// RFC 9110: the supported type with the highest q of its most specific
// matching range; between equals, the one named first. Wildcards and a
// missing header mean application/json (GraphQL over HTTP's legacy
// default, what clients written before application/graphql-response+json
// expect). It returns "" when Accept allows neither.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "application/json"
	}
	type match struct {
		q           float64
		specificity int // 2 exact, 1 application/*, 0 */*
		pos         int
	}
	best := map[string]match{}
	for pos, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		for _, supported := range []string{"application/json", graphqlResponseJSON} {
			spec := -1
			switch mt {
			case supported:
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			if m, seen := best[supported]; spec < 0 || seen && m.specificity >= spec {
				continue
			}
			best[supported] = match{q: q, specificity: spec, pos: pos}
		}
	}
	choice, chosen := "", match{}
	for _, supported := range []string{"application/json", graphqlResponseJSON} {
		m, ok := best[supported]
		if !ok || m.q == 0 {
			continue
		}
		better := choice == "" || m.q > chosen.q ||
			m.q == chosen.q && m.specificity == 2 && (chosen.specificity < 2 || m.pos < chosen.pos)
		if better {
			choice, chosen = supported, m
		}
	}
	return choice
}

// refusalStatus is the status of a request refused before it executed.
// Under application/json it is 200, as GraphQL over HTTP asks for every
// well-formed request (clients of that media type read the errors, not
// the status). Under application/graphql-response+json a response without
// data must be 4xx or 5xx: 400 for parse, validation and variable errors
// and for INVALID_INPUT, 401, 403 or 500 for the other codes.
func refusalStatus(resp *graphql.Response, mediaType string) int {
	if mediaType != graphqlResponseJSON {
		return http.StatusOK
	}
	code := ""
	if len(resp.Errors) > 0 {
		code, _ = resp.Errors[0].Extensions["code"].(string)
	}
	switch code {
	case tenantd.EUNAUTHENTICATED:
		return http.StatusUnauthorized
	case tenantd.EFORBIDDEN:
		return http.StatusForbidden
	case tenantd.EINTERNAL:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// writeRefusal answers a request that never executed: errors only, no data
// entry (GraphQL over HTTP: data is absent when execution did not start).
func writeRefusal(w io.Writer, resp *graphql.Response) {
	b, err := json.Marshal(struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
	if err != nil {
		writeResponse(w, resp)
		return
	}
	_, _ = w.Write(b)
}

func writeResponse(w io.Writer, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"errors": []map[string]any{{"message": "internal error", "extensions": map[string]any{"code": tenantd.EINTERNAL}}}})
	}
	_, _ = w.Write(b)
}
