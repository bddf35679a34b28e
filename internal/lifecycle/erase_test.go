package lifecycle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestErasedHistoryStillVerifies: the history commits to its free text
// without containing it. Once a purged tenant's text is erased, its chain
// verifies and holds none of it; the trigger refuses any other change, and
// an edit made behind it — of any field, or bringing text back — is caught.
func TestErasedHistoryStillVerifies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		ctx := context.Background()
		id := b.signup(t)
		for _, ev := range pathTo[tenantd.StateActive] {
			_, err := b.fire(sysCtx, id, ev)
			require.NoError(t, err)
		}
		admin := lifecycle.Actor{By: tenantd.TriggerAdmin, Name: "admin:tda_test"}
		_, err := b.m.Fire(sysCtx, lifecycle.Request{TenantID: id, Event: tenantd.EventRequestDeletion, Actor: admin,
			Reason:  "Jane Doe (jane@example.com) asked us to delete everything",
			Private: map[string]any{"comment": "call +44 20 7946 0000"}})
		require.NoError(t, err)
		var erased int64
		require.NoError(t, db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
			if _, err := b.m.FireTx(ctx, tx, lifecycle.Request{TenantID: id, Event: tenantd.EventPurge, Actor: admin,
				Reason: "erasure request of Jane Doe"}); err != nil {
				return err
			}
			var err error
			erased, err = b.m.EraseTextTx(ctx, tx, id)
			return err
		}))
		rows, err := db.Ent.StateTransition.Query().Where(statetransition.TenantID(id)).Order(statetransition.BySeq()).All(sysCtx)
		require.NoError(t, err)
		require.EqualValues(t, len(rows), erased, "every row's text erased")
		for _, r := range rows {
			require.Empty(t, r.Reason)
			require.Empty(t, r.Private)
			require.Empty(t, r.TextSalt)
			require.NotNil(t, r.ErasedAt)
			require.NotEmpty(t, r.TextHash, "the commitment stays")
		}
		var leftovers int
		require.NoError(t, db.SQL.QueryRowContext(ctx, rebind(db,
			`SELECT count(*) FROM state_transitions WHERE tenant_id = ? AND (reason LIKE '%Jane%' OR CAST(private AS TEXT) LIKE '%7946%')`), id).Scan(&leftovers))
		require.Zero(t, leftovers, "none of the erased text is left")

		rep, err := lifecycle.Verify(ctx, db.Ent, nil)
		require.NoError(t, err)
		require.True(t, rep.OK(), "the purged chain verifies: %v", rep.Break)

		require.NoError(t, db.InTx(sysCtx, func(ctx context.Context, tx *store.Tx) error {
			again, err := b.m.EraseTextTx(ctx, tx, id)
			require.Zero(t, again, "erasing twice changes nothing")
			return err
		}))

		// The trigger refuses every other change, also after erasure.
		victim := rows[2]
		for _, edit := range []string{
			"UPDATE state_transitions SET actor = 'someone else' WHERE id = ?",
			"UPDATE state_transitions SET reason = 'back again' WHERE id = ?",
			"UPDATE state_transitions SET text_hash = 'x' WHERE id = ?",
		} {
			_, err := db.SQL.ExecContext(ctx, rebind(db, edit), victim.ID)
			require.ErrorContains(t, err, "append-only", edit)
		}

		// Behind the trigger's back, an edit is still caught.
		owner := storetest.Owner(t, db)
		behind := func(stmt string) {
			t.Helper()
			var err error
			if db.IsPostgres() {
				_, err = owner.ExecContext(ctx, `ALTER TABLE state_transitions DISABLE TRIGGER state_transitions_append_only; `+stmt+
					`; ALTER TABLE state_transitions ENABLE TRIGGER state_transitions_append_only`)
			} else {
				_, err = owner.ExecContext(ctx, `DROP TRIGGER IF EXISTS state_transitions_no_update; `+stmt)
			}
			require.NoError(t, err)
		}
		where := " WHERE id = '" + victim.ID.String() + "'"
		for _, edit := range []string{"SET reason = 'put back'", "SET actor = 'admin:forged'", "SET erased_at = NULL"} {
			behind("UPDATE state_transitions " + edit + where)
			rep, err := lifecycle.Verify(ctx, db.Ent, nil)
			require.NoError(t, err)
			require.NotNil(t, rep.Break, edit)
			require.Equal(t, victim.ID, rep.Break.RowID, edit)
			behind("UPDATE state_transitions SET reason = '', actor = '" + victim.Actor + "', erased_at = CURRENT_TIMESTAMP" + where)
			rep, err = lifecycle.Verify(ctx, db.Ent, nil)
			require.NoError(t, err)
			require.True(t, rep.OK(), "restored after %s", edit)
		}
	})
}
