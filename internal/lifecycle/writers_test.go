package lifecycle_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestOnlyLifecycleWritesState scans the product code: outside the generated
// ent package and internal/lifecycle, no code sets a tenant's state or
// history head, or appends to the history. (Tests and benchmarks may, to
// build fixtures and baselines.)
func TestOnlyLifecycleWritesState(t *testing.T) {
	writes := regexp.MustCompile(`\.(SetState|SetNillableState|SetStateBeforeDeletion|ClearStateBeforeDeletion|SetHistorySeq|SetHistoryHead|AddHistorySeq)\(` +
		`|StateTransition\.Create|(?i)update\s+tenants\s+set\s+[^;]*\bstate\b|(?i)insert\s+into\s+state_transitions`)
	root := filepath.Join("..", "..")
	var offenders []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "ent", filepath.Join("internal", "lifecycle"), filepath.Join("internal", "bench"), "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if writes.MatchString(line) {
				offenders = append(offenders, fmt.Sprintf("%s:%d: %s", rel, i+1, strings.TrimSpace(line)))
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, offenders, "only internal/lifecycle may write tenant state and history")
}

// TestStateWritesOutsideLifecycleAreRefused: the rule is enforced by the
// code too. An ent write of a tenant's state, state_before_deletion or
// history head, or of the history, that does not come from lifecycle is
// refused by the schema's hooks — even as SYSTEM — and the callbacks
// lifecycle offers (Request.Update) cannot set them either.
func TestStateWritesOutsideLifecycleAreRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db)
		id := b.signup(t)
		sys := tenantd.SystemContext(context.Background())
		writes := map[string]func() error{
			"state": func() error {
				return db.Ent.Tenant.UpdateOneID(id).SetState(tenantd.StateActive).Exec(sys)
			},
			"state_before_deletion": func() error {
				return db.Ent.Tenant.UpdateOneID(id).SetStateBeforeDeletion(tenantd.StateActive).Exec(sys)
			},
			"history head": func() error {
				return db.Ent.Tenant.UpdateOneID(id).SetHistoryHead("forged").Exec(sys)
			},
			"history row": func() error {
				return db.Ent.StateTransition.Create().SetTenantID(id).SetSeq(99).SetEvent(tenantd.EventActivate).
					SetToState(tenantd.StateActive).SetTriggeredBy(tenantd.TriggerSystem).SetActor("forger").
					SetOccurredAt(time.Now()).SetPrevHash("").SetHash("x").Exec(sys)
			},
			"history delete": func() error {
				_, err := db.Ent.StateTransition.Delete().Exec(sys)
				return err
			},
			"Update callback": func() error {
				_, err := b.m.Fire(sys, lifecycle.Request{TenantID: id, Event: tenantd.EventProvision,
					Actor:  lifecycle.Actor{By: tenantd.TriggerSystem, Name: "test"},
					Update: func(u *ent.TenantUpdateOne) { u.SetState(tenantd.StateActive) }})
				return err
			},
		}
		for name, write := range writes {
			err := write()
			require.Error(t, err, name)
			if name != "history delete" { // privacy already denies deletes
				require.Contains(t, err.Error(), "lifecycle", name)
			}
		}
		tn, err := db.Ent.Tenant.Get(sys, id)
		require.NoError(t, err)
		require.Equal(t, tenantd.StatePending, tn.State, "nothing changed")
		require.Equal(t, 1, tn.HistorySeq)
		// Other fields stay writable (a plan, billing ids).
		require.NoError(t, db.Ent.Tenant.UpdateOneID(id).SetBillingCustomerID("cus_1").Exec(sys))
	})
}
