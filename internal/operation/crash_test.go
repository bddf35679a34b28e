package operation_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/operation/operationtest"
	"github.com/tenantd/tenantd/internal/storetest"
)

var buildCrashRun = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "crashrun-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "crashrun")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/crashrun").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// TestCrashInEveryStep SIGKILLs a real process working a three-step
// operation on PostgreSQL inside each step in turn — a transaction step
// after its write and before its commit, the outside call after the call
// and before its checkpoint — then starts a fresh process. The operation
// resumes at the step it died in (the steps before are not run again: the
// outside call of an earlier step is made once) and every step's effect
// exists exactly once.
func TestCrashInEveryStep(t *testing.T) {
	t.Parallel()
	if !slices.Contains(storetest.Kinds(t), storetest.Postgres) {
		return
	}
	bin, err := buildCrashRun()
	require.NoError(t, err)
	for _, killIn := range operationtest.Steps {
		t.Run(killIn, func(t *testing.T) {
			t.Parallel()
			db := storetest.New(t, storetest.Postgres)
			owner := storetest.Owner(t, db)
			_, err := owner.Exec(operationtest.DDL + "; GRANT ALL ON op_effects, op_calls TO " + storetest.AppRole)
			require.NoError(t, err)
			// The test inserts the operation; the processes work it.
			engine := operation.New(operation.Config{DB: db, Events: events.NewPublisher(events.NewHub())})
			engine.Add(operationtest.Kind(db, ""))
			inserter, err := river.NewClient(db.RiverDriver(), &river.Config{})
			require.NoError(t, err)
			engine.SetJobs(inserter)
			b := &bundle{db: db, engine: engine}
			b.tenant = newTenant(t, db, lifecycle.New(lifecycle.Config{DB: db, Operations: engine}))
			opID := b.begin(t, operationtest.KindName)

			env := append(os.Environ(), "DATABASE_URL="+db.URL)
			var log bytes.Buffer
			first := exec.Command(bin)
			first.Env, first.Stdout, first.Stderr = append(env, operationtest.KillEnv+"="+killIn), &log, &log
			require.NoError(t, first.Start())
			waitErr := make(chan error, 1)
			go func() { waitErr <- first.Wait() }()
			select {
			case err := <-waitErr:
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee, "output: %s", log.String())
				require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal(), "killed in %s", killIn)
			case <-time.After(60 * time.Second):
				_ = first.Process.Kill()
				t.Fatalf("the process never reached %s: %s", killIn, log.String())
			}
			// What River's rescuer does once RescueStuckJobsAfter has passed,
			// done here so the test does not wait out the dead leader's lease.
			_, err = db.SQL.Exec(`UPDATE river_job SET state = 'available', scheduled_at = now() WHERE state = 'running'`)
			require.NoError(t, err)

			second := exec.Command(bin)
			second.Env, second.Stdout, second.Stderr = env, &log, &log
			require.NoError(t, second.Start())
			t.Cleanup(func() {
				_ = second.Process.Signal(syscall.SIGTERM)
				_ = second.Wait()
			})
			op := b.waitDone(t, opID)
			require.Equal(t, tenantd.OpSucceeded, op.Status, "output: %s", log.String())
			require.Equal(t, 2, op.Attempt, "resumed by the second attempt")

			count := func(table, step string) int {
				var n int
				require.NoError(t, db.SQL.QueryRow(`SELECT count(*) FROM `+table+` WHERE op_id = $1 AND step = $2`, opID.String(), step).Scan(&n))
				return n
			}
			for _, s := range operationtest.Steps {
				require.Equal(t, 1, count("op_effects", s), "the effect of %s exists once (killed in %s)", s, killIn)
			}
			calls := count("op_calls", "call_out")
			switch killIn {
			case "call_out":
				require.Equal(t, 2, calls, "the call it died in is made again; its key keeps one effect")
			default:
				require.Equal(t, 1, calls, "the outside call is not made again when the process died in another step")
			}
		})
	}
}
