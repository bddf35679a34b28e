package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// An import through the API comes in two requests: the archive is
// uploaded (POST /exports/uploads, an admin token, the ZIP as the body),
// streamed into the export store — the directory every replica shares —
// and the importTenant mutation imports it by the upload's id on whichever
// replica it reaches. The GraphQL body stays small (its limit is a
// document's size), and the archive is never held in memory.

// Upload limits.
const (
	// DefaultMaxUpload bounds an uploaded archive.
	DefaultMaxUpload = 16 << 30
	// uploadTTL is how long an upload not imported is kept.
	uploadTTL = 24 * time.Hour
)

const uploadsDir = "uploads"

func (s *Service) uploadPath(id uuid.UUID) string {
	return filepath.Join(s.dir, uploadsDir, id.String()+".zip")
}

// upload serves POST /exports/uploads.
func (s *Service) upload(w http.ResponseWriter, r *http.Request) {
	writeErr := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}}})
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || s.auth == nil {
		writeErr(http.StatusUnauthorized, tenantd.EUNAUTHENTICATED, "an upload needs an admin token: Authorization: Bearer <token>")
		return
	}
	v, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		writeErr(http.StatusUnauthorized, tenantd.EUNAUTHENTICATED, tenantd.ErrorMessage(err))
		return
	}
	if !v.IsAdmin() {
		writeErr(http.StatusForbidden, tenantd.EFORBIDDEN, "importing a tenant needs an admin token")
		return
	}
	if r.ContentLength > DefaultMaxUpload {
		writeErr(http.StatusRequestEntityTooLarge, tenantd.EINVALID, fmt.Sprintf("an archive may be at most %d bytes", int64(DefaultMaxUpload)))
		return
	}
	id := uuid.Must(uuid.NewV7())
	n, err := s.saveUpload(id, http.MaxBytesReader(w, r.Body, DefaultMaxUpload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErr(http.StatusRequestEntityTooLarge, tenantd.EINVALID, fmt.Sprintf("an archive may be at most %d bytes", int64(DefaultMaxUpload)))
			return
		}
		s.log.Error("store an upload", "err", err)
		writeErr(http.StatusInternalServerError, tenantd.EINTERNAL, "internal error")
		return
	}
	s.log.Info("archive uploaded for import", "upload", id, "bytes", n, "actor", v.Actor)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"uploadId": id, "bytes": n})
}

// saveUpload streams body into the store (temporary name, sync, rename).
func (s *Service) saveUpload(id uuid.UUID, body io.Reader) (int64, error) {
	dir := filepath.Join(s.dir, uploadsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, "."+id.String()+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), s.uploadPath(id))
}

// ImportUpload imports the archive uploaded as uploadID (see Import) and
// deletes the upload once the tenant is made.
//
// Returns NOT_FOUND for an unknown upload, and Import's errors.
func (s *Service) ImportUpload(ctx context.Context, uploadID uuid.UUID, opts ImportOptions) (*ImportResult, error) {
	path := s.uploadPath(uploadID)
	if _, err := os.Stat(path); err != nil {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no upload %s (uploads are kept %s)", uploadID, uploadTTL)
	}
	res, err := s.ImportFile(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	return res, nil
}

// sweepUploads deletes uploads older than uploadTTL.
func (s *Service) sweepUploads() (int, error) {
	dir := filepath.Join(s.dir, uploadsDir)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || s.now().Sub(info.ModTime()) < uploadTTL {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}
