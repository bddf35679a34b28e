package export

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/internal/auth"
)

// A download link is /exports/<id>?expires=<unix seconds>&sig=<base64url
// HMAC-SHA256> over the export's id and the expiry, signed as auth.SignLink
// says. Changing the id, or the expiry, breaks the signature.

// linkContext separates link signatures from anything else the key signs.
const linkContext = "tenantd export link v1"

func (s *Service) signingKey(ctx context.Context, tenantID uuid.UUID) ([]byte, error) {
	return auth.SigningKey(ctx, s.db.Ent, tenantID)
}

// Link returns the signed download link of a READY export, relative to the
// server ("/exports/<id>?expires=…&sig=…"), valid until the export expires;
// "" for an export that is not READY (or whose tenant has no key).
func (s *Service) Link(exp *ent.Export) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := s.LinkContext(ctx, exp)
	if err != nil {
		s.log.Warn("sign export link", "export", exp.ID, "err", err)
		return ""
	}
	return l
}

// LinkContext is Link with a context and the error.
func (s *Service) LinkContext(ctx context.Context, exp *ent.Export) (string, error) {
	if exp.Status != entexport.StatusREADY || exp.ExpiresAt == nil || exp.DeletedAt != nil {
		return "", nil
	}
	key, err := s.signingKey(ctx, exp.TenantID)
	if err != nil {
		return "", err
	}
	expires := exp.ExpiresAt.Unix()
	q := url.Values{"expires": {strconv.FormatInt(expires, 10)}, "sig": {auth.SignLink(key, linkContext, exp.ID, expires)}}
	return "/exports/" + exp.ID.String() + "?" + q.Encode(), nil
}

//go:embed schema/*.schema.json
var schemas embed.FS

// Schemas returns the JSON Schemas of the archive's files (what
// /exports/schema/ serves).
func Schemas() fs.FS {
	sub, _ := fs.Sub(schemas, "schema")
	return sub
}

// SchemaOf returns the name of the JSON Schema of an archive file:
// manifest.json → manifest.schema.json, documents.jsonl →
// documents.schema.json (one line), documents.csv → documents.csv.schema.json
// (one row as an object keyed by the header, every value a string).
func SchemaOf(file string) string {
	switch {
	case strings.HasSuffix(file, ".jsonl"):
		return strings.TrimSuffix(file, ".jsonl") + ".schema.json"
	case strings.HasSuffix(file, ".json"):
		return strings.TrimSuffix(file, ".json") + ".schema.json"
	}
	return file + ".schema.json"
}

// Handler serves, under /exports/:
//
//   - GET /exports/<id>: the archive, to a signed link or a bearer token
//     (an admin, or the tenant's own API key). Every refusal — a bad or
//     tampered signature, an expired link, an unknown, expired or deleted
//     export, a token of another tenant — is the same 403 with nothing
//     served, so a link cannot be probed. Each download is logged
//     (ExportDownload and the log).
//   - GET /exports/schema/ and /exports/schema/<file>: the JSON Schemas.
//   - POST /exports/uploads: an archive to import (admin), see ImportUpload.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /exports/schema/{$}", s.schemaIndex)
	mux.HandleFunc("GET /exports/schema/{file}", s.schemaFile)
	mux.HandleFunc("GET /exports/{id}", s.download)
	mux.HandleFunc("POST /exports/uploads", s.upload)
	return mux
}

func (s *Service) schemaIndex(w http.ResponseWriter, _ *http.Request) {
	entries, _ := fs.ReadDir(Schemas(), ".")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"formatVersion": FormatVersion, "schemas": names})
}

func (s *Service) schemaFile(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("file"))
	b, err := fs.ReadFile(Schemas(), name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// forbidden is the one answer to every refused download.
func forbidden(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte("403 forbidden: this download link is not valid or has expired\n"))
}

func (s *Service) download(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sys := tenantd.SystemContext(ctx)
	refuse := func(why string, args ...any) {
		s.log.Info("export download refused", append([]any{"export", r.PathValue("id"), "reason", why}, args...)...)
		forbidden(w)
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		refuse("not an export id")
		return
	}
	exp, err := s.db.Ent.Export.Get(sys, id)
	if err != nil {
		refuse("no such export", "err", err)
		return
	}
	now := s.now()
	if exp.Status != entexport.StatusREADY || exp.DeletedAt != nil || exp.Location == nil || exp.ExpiresAt == nil || !now.Before(*exp.ExpiresAt) {
		refuse("export not available", "status", exp.Status)
		return
	}
	actor, why := s.authorize(r, exp, now)
	if actor == "" {
		refuse(why)
		return
	}
	f, err := os.Open(s.path(*exp.Location))
	if err != nil {
		s.log.Error("export archive missing from the store", "export", exp.ID, "location", *exp.Location, "err", err)
		forbidden(w)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="tenantd-export-%s-%s.zip"`, exp.TenantID, exp.ReadyAt.UTC().Format("20060102")))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+*exp.Sha256+`"`)
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", *exp.ReadyAt, f)
	if r.Method != http.MethodGet || cw.n == 0 {
		return
	}
	at := s.now()
	if err := s.db.Ent.ExportDownload.Create().SetTenantID(exp.TenantID).SetExportID(exp.ID).
		SetActor(actor).SetBytes(cw.n).SetDownloadedAt(at).Exec(sys); err != nil {
		s.log.Error("log export download", "export", exp.ID, "err", err)
	}
	s.log.Info("export downloaded", "tenant", exp.TenantID, "export", exp.ID, "actor", actor, "bytes", cw.n, "status", cw.status)
}

// authorize returns who downloads — the token's actor, or link:<id> for a
// valid signature — or "" and why not.
func (s *Service) authorize(r *http.Request, exp *ent.Export, now time.Time) (actor, why string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || s.auth == nil {
			return "", "malformed or unaccepted Authorization"
		}
		v, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			return "", "token refused"
		}
		switch {
		case v.IsAdmin():
			return v.Actor, ""
		case v.Role == tenantd.RoleTenant && v.TenantID == exp.TenantID:
			return v.Actor, ""
		}
		return "", "the token may not read this tenant's data"
	}
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil {
		return "", "no expiry"
	}
	if !now.Before(time.Unix(expires, 0)) {
		return "", "link expired"
	}
	key, err := s.signingKey(r.Context(), exp.TenantID)
	if err != nil {
		return "", "no signing key"
	}
	if !auth.LinkSignatureValid(key, linkContext, exp.ID, expires, q.Get("sig")) {
		return "", "bad signature"
	}
	return "link:" + exp.ID.String(), ""
}

// countingWriter counts the body bytes served.
type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countingWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}
