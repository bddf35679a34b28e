package lifecycle

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/internal/store"
)

// EraseTextTx erases the erasable text — reason, private details and the
// salt of their commitment — of every chain-version-2 row of a tenant's
// history, inside tx: the one change the history's append-only trigger
// allows. The hashes are untouched, so `tenantd audit verify` still passes,
// and nothing of the text is left to guess from (the salt is gone). Rows
// of chain version 1, written before the text was kept apart, keep theirs:
// their hash contains it. Returns how many rows were erased.
func (m *Machine) EraseTextTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID) (int64, error) {
	q := `UPDATE state_transitions SET reason = '', private = NULL, text_salt = '', erased_at = ?
		WHERE tenant_id = ? AND chain_version >= 2 AND erased_at IS NULL`
	if tx.IsPostgres() {
		q = `UPDATE state_transitions SET reason = '', private = NULL, text_salt = '', erased_at = $1
			WHERE tenant_id = $2 AND chain_version >= 2 AND erased_at IS NULL`
	}
	res, err := tx.SQL.ExecContext(ctx, q, m.Now(), tenantID)
	if err != nil {
		return 0, fmt.Errorf("erase the history's text: %w", err)
	}
	return res.RowsAffected()
}
