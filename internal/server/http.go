package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/graph"
	"github.com/tenantd/tenantd/internal/console"
	"github.com/tenantd/tenantd/internal/graphiql"
	"github.com/tenantd/tenantd/internal/version"
)

// Limits of the GraphQL endpoint (the body limits are in graphqlhttp.go).
const (
	maxComplexity    = 1000
	maxDepth         = 10
	parserTokenLimit = 10_000
)

// routes builds the HTTP handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.graphqlEndpoint())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version.String()})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/webhooks/stripe", s.webhooks)
	mux.Handle("/exports/", s.exports.Handler())
	mux.Handle("/", console.Handler())
	if s.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.metricsGuard(s.metricsHandler()))
	}
	if s.cfg.IsDevelopment() {
		// GraphiQL, embedded (no CDN), with the development admin token
		// prefilled for a browser on this machine.
		gi := graphiql.Handler(graphiql.Options{Endpoint: "/graphql", DevToken: func() string { return s.AdminToken }})
		mux.Handle("GET /graphiql", gi)
		mux.Handle("GET /graphiql/", gi)
	}
	return s.logRequests(s.cors(mux))
}

func (s *Server) graphqlHandler() *handler.Server {
	srv := handler.New(graph.NewSchema(s.resolver))
	readLimit := int64(maxWebSocketMessage)
	srv.AddTransport(webSocketTransport{transport.Websocket{
		Implementation: wsAcceptor{transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: s.originPatterns(),
		}}},
		InitFunc:              s.websocketInit,
		InitTimeout:           s.initTimeout,
		CloseFunc:             s.sockets.closed,
		PayloadReadLimit:      &readLimit,
		KeepAlivePingInterval: s.pingInterval, // legacy graphql-ws
		PingPongInterval:      s.pingInterval, // graphql-transport-ws: a client that misses two pongs is dropped
	}})
	srv.Use(wsOperationStart{}) // first: no other interceptor can skip it
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(s.guard) // first after APQ: before any parsing
	srv.Use(graph.Limits{MaxDepth: maxDepth})
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(graph.ContentBudget{MaxBytes: s.cfg.MaxDocument + 1<<20})
	srv.Use(graph.SignUpScope{})
	if s.cfg.IsDevelopment() {
		srv.Use(extension.Introspection{})
	}
	srv.Use(wsAdmission{}) // after every other mutator: admits only what nothing else refuses
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetDisableSuggestion(!s.cfg.IsDevelopment())
	var presenterOpts []graph.PresenterOption
	if !s.cfg.IsDevelopment() {
		presenterOpts = append(presenterOpts, graph.HideSuggestions())
	}
	srv.SetErrorPresenter(graph.ErrorPresenter(s.log, func(code string) { s.metrics.Errors.WithLabelValues(code).Inc() }, presenterOpts...))
	srv.SetRecoverFunc(graph.Recover(s.log))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if info, ok := ctx.Value(opInfoKey{}).(*opInfo); ok {
			oc := graphql.GetOperationContext(ctx)
			info.name = oc.OperationName
			if info.name == "" && oc.Operation != nil {
				info.name = rootFields(oc.Operation)
			}
		}
		return next(ctx)
	})
	return srv
}

// graphqlEndpoint guards gqlgen: it negotiates the response media type,
// authenticates the bearer token, then reads and decodes the request — only
// as much body as that caller may send — and times the request by
// operation. It follows GraphQL over HTTP: queries come over GET or POST,
// everything else over POST with a JSON body (a mutation over GET is 405);
// the response is application/json or application/graphql-response+json as
// Accept asks (406 when it allows neither); a body that is not
// application/json is 415.
func (s *Server) graphqlEndpoint() http.Handler {
	gql := s.graphqlHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		switch r.Method {
		case http.MethodOptions:
			gql.ServeHTTP(w, r)
			return
		case http.MethodGet:
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				// Subscriptions: the WebSocket transport authenticates in
				// connection_init; the registry follows the connection.
				c := s.sockets.newConn()
				gql.ServeHTTP(w, r.WithContext(withWSConn(r.Context(), c)))
				c.finish()
				return
			}
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, tenantd.EINVALID, "use POST with a JSON body (or GET for queries)")
			return
		}
		mediaType := negotiate(r.Header.Get("Accept"))
		if mediaType == "" {
			writeError(w, http.StatusNotAcceptable, tenantd.EINVALID,
				"the Accept header allows neither application/graphql-response+json nor application/json, the only media types of GraphQL answers")
			return
		}
		w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
		fail := func(status int, code, field, msg string) {
			s.metrics.Errors.WithLabelValues(code).Inc()
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			writeFieldError(w, status, code, field, msg)
		}
		if r.Method == http.MethodPost {
			mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if cs := params["charset"]; err != nil || mt != "application/json" || cs != "" && !strings.EqualFold(cs, "utf-8") {
				fail(http.StatusUnsupportedMediaType, tenantd.EINVALID, "",
					"send GraphQL requests as UTF-8 JSON: Content-Type: application/json with a body like {\"query\": \"…\"}")
				return
			}
		} else if op := getOperation(r.URL.Query()); op != "" && op != ast.Query {
			w.Header().Set("Allow", "POST")
			fail(http.StatusMethodNotAllowed, tenantd.EINVALID, "", getOnlyQueries(op))
			return
		}
		ctx, err := s.authenticate(r)
		if err != nil {
			code := tenantd.ErrorCode(err)
			status := http.StatusUnauthorized
			if code == tenantd.EINTERNAL {
				s.log.Error("authenticate", "err", err)
				status = http.StatusInternalServerError
			} else {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			writeError(w, status, code, tenantd.ErrorMessage(err))
			return
		}
		ctx = context.WithValue(ctx, mediaTypeKey{}, mediaType)
		ctx, params, release, err := s.readParams(ctx, w, r)
		defer release()
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) {
				re = refuse(http.StatusBadRequest, tenantd.EINVALID, "the request could not be read")
			}
			fail(re.status, re.code, re.field, re.msg)
			return
		}
		info := &opInfo{}
		ctx = context.WithValue(ctx, opInfoKey{}, info)
		ctx = context.WithValue(ctx, paramsKey{}, params)
		gql.ServeHTTP(w, r.WithContext(ctx))
		s.metrics.RequestDuration.WithLabelValues(s.metrics.operationLabel(info.name)).Observe(time.Since(start).Seconds())
	})
}

// websocketInit authenticates a WebSocket connection from the
// connection_init payload {"Authorization": "Bearer <token>"}: a missing token
// closes the socket with 4401, a bad one with 4403, before any data. An
// authenticated socket is registered, so that revoking its credential
// closes it.
func (s *Server) websocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	h := payload.Authorization()
	if h == "" {
		if v, ok := payload["authorization"].(string); ok {
			h = v
		}
	}
	if h == "" {
		return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "missing token: send connectionParams {Authorization: \"Bearer <token>\"}"), 4401),
			nil, errors.New("missing token")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		token = h
	}
	v, err := s.auth.Authenticate(ctx, strings.TrimSpace(token))
	if err != nil {
		return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "forbidden: "+tenantd.ErrorMessage(err)), 4403),
			nil, err
	}
	return s.sockets.opened(ctx, v)
}

// originPatterns are the Origin values allowed to open a WebSocket besides
// the server's own host: the hosts of TENANTD_ALLOWED_ORIGINS.
func (s *Server) originPatterns() []string {
	var out []string
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" {
			return []string{"*"}
		}
		if u, err := url.Parse(o); err == nil {
			out = append(out, u.Host)
		}
	}
	return out
}

// authenticate returns the request's context with the viewer of its bearer
// token, or unchanged if it has none.
func (s *Server) authenticate(r *http.Request) (context.Context, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return r.Context(), nil // anonymous: the Guard lets it sign up, nothing more
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the Authorization header must be \"Bearer <token>\"")
	}
	v, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	return tenantd.NewContext(r.Context(), v), nil
}

type viaGETKey struct{}

type opInfoKey struct{}

type opInfo struct{ name string }

func rootFields(op *ast.OperationDefinition) string {
	var names []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, "+")
}

// readyz answers 200 when the database answers and every migration is applied.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	if err := s.db.MigrationsCurrent(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
}

// metricsGuard protects /metrics on the API's address in production: the
// figures (operation names, error counts, memory) are for operators, so a
// scraper sends an admin or partner token (Prometheus: authorization
// credentials). TENANTD_METRICS_ADDR serves them on a private address
// instead.
func (s *Server) metricsGuard(next http.Handler) http.Handler {
	if s.cfg.IsDevelopment() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.authenticate(r)
		if err == nil {
			if v, ok := tenantd.ViewerFrom(ctx); !ok {
				err = tenantd.Errorf(tenantd.EUNAUTHENTICATED, "/metrics needs an admin or partner token (Authorization: Bearer …), or serve it on TENANTD_METRICS_ADDR")
			} else if !v.CanRead() {
				writeError(w, http.StatusForbidden, tenantd.EFORBIDDEN, "/metrics needs an admin or partner token")
				return
			}
		}
		if err != nil {
			status := http.StatusUnauthorized
			if tenantd.ErrorCode(err) == tenantd.EINTERNAL {
				status = http.StatusInternalServerError
			}
			writeError(w, status, tenantd.ErrorCode(err), tenantd.ErrorMessage(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets the configured origins call the API from browsers.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && s.originAllowed(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	return slices.Contains(s.cfg.AllowedOrigins, "*") || slices.Contains(s.cfg.AllowedOrigins, origin)
}

// logRequests logs each request once it is done.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			level = slog.LevelDebug
		}
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// writeJSON answers v as JSON; a Content-Type already set (the GraphQL
// endpoint's negotiated one) stays.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with a GraphQL-shaped error carrying the contract's
// code. Nothing was executed, so there is no data entry.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeFieldError(w, status, code, "", msg)
}

// writeFieldError is writeError naming the input field at fault.
func writeFieldError(w http.ResponseWriter, status int, code, field, msg string) {
	ext := map[string]any{"code": code}
	if field != "" {
		ext["field"] = field
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": ext}}})
}
