// Package operationtest holds what the operation engine's tests share with
// the process they SIGKILL: a three-step kind whose every step leaves an
// effect that can be counted, and the table the effects go to.
package operationtest

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
)

// KindName is the test kind's name: an existing kind, so its rows are
// valid, that no engine of the test also registers.
const KindName = tenantd.OpExport

// Steps are its steps: a transaction, an outside call, a transaction.
var Steps = []string{"write_a", "call_out", "write_b"}

// DDL creates the effects tables: effects holds one row per effect (a Tx
// step's write, or a Do step's call keyed by its idempotency key, which
// the outside system keeps once); calls counts every Do call, repeats
// included.
const DDL = `CREATE TABLE IF NOT EXISTS op_effects (op_id TEXT NOT NULL, step TEXT NOT NULL, call_key TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS op_calls (op_id TEXT NOT NULL, step TEXT NOT NULL)`

// KillEnv names the step in which the crash process kills itself, right
// after the step's effect and before its checkpoint commits.
const KillEnv = "OPTEST_KILL_IN"

// Kind returns the test kind over db (where the outside system of its Do
// step keeps its effects, too). killIn, if set, is the step in which the
// process SIGKILLs itself after the effect (a Tx step: inside its
// uncommitted transaction; a Do step: after the outside call, before the
// checkpoint).
func Kind(db *store.DB, killIn string) operation.Kind {
	kill := func(step string) {
		if step == killIn {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	write := func(name string) operation.Step {
		return operation.Step{Name: name, Tx: func(ctx context.Context, tx *store.Tx, r *operation.Run) (string, error) {
			if _, err := tx.SQL.ExecContext(ctx, rebind(tx.IsPostgres(), `INSERT INTO op_effects (op_id, step) VALUES (?, ?)`), r.Op.ID.String(), name); err != nil {
				return "", err
			}
			kill(name)
			return "wrote " + name, nil
		}}
	}
	call := operation.Step{Name: "call_out", Do: func(ctx context.Context, r *operation.Run) (string, error) {
		if _, err := db.SQL.ExecContext(ctx, rebind(db.IsPostgres(), `INSERT INTO op_calls (op_id, step) VALUES (?, ?)`), r.Op.ID.String(), "call_out"); err != nil {
			return "", err
		}
		// The outside system keeps one effect per idempotency key.
		if _, err := db.SQL.ExecContext(ctx, rebind(db.IsPostgres(), `INSERT INTO op_effects (op_id, step, call_key) VALUES (?, ?, ?) ON CONFLICT (call_key) DO NOTHING`),
			r.Op.ID.String(), "call_out", r.Key()); err != nil {
			return "", err
		}
		kill("call_out")
		return "called with key " + r.Key(), nil
	}}
	return operation.Kind{Name: KindName, Steps: []operation.Step{write("write_a"), call, write("write_b")},
		Timeout: 5 * time.Second, MaxAttempts: 25}
}

func rebind(pg bool, q string) string {
	if !pg {
		return q
	}
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
