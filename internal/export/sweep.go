package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/ent/exportdownload"
	"github.com/tenantd/tenantd/internal/store"
)

// sweepBatch is how many due exports one query of the sweep reads.
const sweepBatch = 500

// Sweep deletes the archives whose expiry has passed and marks their
// exports EXPIRED (deleted_at set), reading the due ones only (the
// expires_at index): its cost follows the number due, not the number of
// exports. The file goes first, then the row, so a sweep stopped between
// them deletes nothing twice and leaves no file behind: the next one finds
// the row still due and the file already gone. It returns how many
// archives it deleted.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	now := s.now()
	done := 0
	for {
		due, err := s.db.Ent.Export.Query().
			Where(entexport.ExpiresAtLTE(now), entexport.DeletedAtIsNil()).
			Order(entexport.ByExpiresAt()).Limit(sweepBatch).All(sys)
		if err != nil {
			return done, fmt.Errorf("find expired exports: %w", err)
		}
		for _, exp := range due {
			if exp.Location != nil {
				if err := os.Remove(s.path(*exp.Location)); err != nil && !os.IsNotExist(err) {
					return done, fmt.Errorf("delete the archive of export %s: %w", exp.ID, err)
				}
			}
			if err := s.db.Ent.Export.UpdateOne(exp).SetStatus(entexport.StatusEXPIRED).SetDeletedAt(now).Exec(sys); err != nil {
				return done, fmt.Errorf("expire export %s: %w", exp.ID, err)
			}
			s.log.Info("export expired; archive deleted", "tenant", exp.TenantID, "export", exp.ID)
			done++
		}
		if len(due) < sweepBatch {
			if n, err := s.sweepUploads(); err != nil {
				s.log.Warn("sweep old uploads", "err", err)
			} else if n > 0 {
				s.log.Info("old uploads deleted", "uploads", n)
			}
			return done, nil
		}
	}
}

// DeleteTenantExports deletes, in tx, every export of the tenant and its
// download log (the purge), and returns the archive files it knew of and
// how many rows it deleted. The files cannot go in a transaction: once tx
// commits, RemoveTenantFiles deletes them (the whole per-tenant directory,
// so an archive still being written or a temporary file goes too); tx
// does that itself on commit, and the purge may call it again. Run again
// it deletes nothing more.
func (s *Service) DeleteTenantExports(ctx context.Context, tx *store.Tx, tenantID uuid.UUID) (files []string, rows int, err error) {
	sys := tenantd.SystemContext(ctx)
	exps, err := tx.Ent.Export.Query().Where(entexport.TenantID(tenantID)).All(sys)
	if err != nil {
		return nil, 0, fmt.Errorf("list the tenant's exports: %w", err)
	}
	for _, e := range exps {
		if e.Location != nil && e.DeletedAt == nil {
			files = append(files, s.path(*e.Location))
		}
	}
	downloads, err := tx.Ent.ExportDownload.Delete().Where(exportdownload.TenantID(tenantID)).Exec(sys)
	if err != nil {
		return nil, 0, fmt.Errorf("delete the tenant's download log: %w", err)
	}
	n, err := tx.Ent.Export.Delete().Where(entexport.TenantID(tenantID)).Exec(sys)
	if err != nil {
		return nil, 0, fmt.Errorf("delete the tenant's exports: %w", err)
	}
	tx.OnCommit(func() {
		if _, err := s.RemoveTenantFiles(tenantID); err != nil {
			s.log.Error("remove the tenant's export files", "tenant", tenantID, "err", err)
		}
	})
	return files, n + downloads, nil
}

// RemoveTenantFiles deletes the tenant's directory of the export store —
// every archive of the tenant, finished or not — and returns the files it
// removed. Without a directory it removes nothing.
func (s *Service) RemoveTenantFiles(tenantID uuid.UUID) ([]string, error) {
	dir := filepath.Join(s.dir, tenantID.String())
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the tenant's export directory: %w", err)
	}
	var removed []string
	for _, e := range entries {
		removed = append(removed, filepath.Join(dir, e.Name()))
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("remove the tenant's export directory: %w", err)
	}
	syncDir(s.dir)
	return removed, nil
}
