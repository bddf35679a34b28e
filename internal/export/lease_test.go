package export_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestSecondRunWaitsForTheLease: River may run an export's job again while
// the first run still writes (its rescue of stuck jobs does not wait for
// the export's long timeout). The second run finds the lease held and
// snoozes, writing nothing; the first finishes; one archive is kept.
func TestSecondRunWaitsForTheLease(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			var b *bundle
			var opID uuid.UUID
			var second error
			b = setup(t, storetest.New(t, k), export.Hooks{InSnapshot: func(ctx context.Context, _ uuid.UUID) {
				second = b.ops.Work(tenantd.SystemContext(context.Background()), opID, 2, 3)
			}})
			id := b.tenant(t, "starter")
			b.fill(t, id, map[string]string{"a": "alpha", "b": "beta"})
			op, _, err := b.svc.Request(sys, id, "JSON", admin, "")
			require.NoError(t, err)
			opID = op.ID
			require.NoError(t, b.ops.Work(sys, op.ID, 1, 3))

			var snooze *rivertype.JobSnoozeError
			require.ErrorAs(t, second, &snooze, "the second run snoozes while the first holds the lease")
			op, err = b.db.Ent.Operation.Get(sys, op.ID)
			require.NoError(t, err)
			require.Equal(t, tenantd.OpSucceeded, op.Status, "%v", op.ErrorMessage)
			exp, err := b.svc.ExportOf(sys, op.ID)
			require.NoError(t, err)
			require.Nil(t, exp.LeaseUntil, "the lease is released")
			files, err := os.ReadDir(filepath.Dir(b.archivePath(exp)))
			require.NoError(t, err)
			require.Len(t, files, 1, "one archive, no second one half-written")
			require.NoError(t, b.ops.Work(sys, op.ID, 3, 3), "a run after the end does nothing")
		})
	}
}
