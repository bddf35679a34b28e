package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/config"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// crashEnv names the crash point of the process tests: the process kills
// itself with SIGKILL there, as a crash would, so that a test can restart
// it and check what the next process makes of the half-done work. Outside
// production only; unset, nothing changes.
//
//	step:KIND:STEP:before   before the step of an operation of that kind runs
//	step:KIND:STEP:after    after the step has checkpointed
//	move:EVENT[:N]          at the Nth (default first) workspace move event:
//	                        copied (a batch of the bulk copy written),
//	                        switch (inside the switch's transaction, before it commits),
//	                        switched (the switch committed, its step not yet checkpointed)
const crashEnv = "TENANTD_TEST_CRASH_AT"

// crashPoint returns the server options of the crash point set in the
// environment, and a function to run on the opened server (the move hook).
func crashPoint(cfg *config.Config) ([]server.Option, func(*server.Server), error) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return nil, func(*server.Server) {}, nil
	}
	if cfg.Env == config.Production {
		return nil, nil, fmt.Errorf("%s is for tests and is refused in production", crashEnv)
	}
	die := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	parts := strings.Split(spec, ":")
	switch {
	case len(parts) == 4 && parts[0] == "step" && (parts[3] == "before" || parts[3] == "after"):
		kind, step := tenantd.OperationKind(parts[1]), parts[2]
		var h operation.Hooks
		if parts[3] == "before" {
			h.BeforeStep = func(k tenantd.OperationKind, s string, _ int) error {
				if k == kind && s == step {
					die()
				}
				return nil
			}
		} else {
			h.AfterStep = func(k tenantd.OperationKind, s string) {
				if k == kind && s == step {
					die()
				}
			}
		}
		return []server.Option{server.WithOperationHooks(h)}, func(*server.Server) {}, nil
	case (len(parts) == 2 || len(parts) == 3) && parts[0] == "move":
		event, n := parts[1], int64(1)
		if len(parts) == 3 {
			v, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil || v < 1 {
				return nil, nil, fmt.Errorf("%s=%s: want a count of at least 1 after the event", crashEnv, spec)
			}
			n = v
		}
		var seen atomic.Int64
		return nil, func(srv *server.Server) {
			srv.Workspaces().SetMoveHook(func(e string, _ wsdriver.Placement) {
				if e == event && seen.Add(1) == n {
					die()
				}
			})
		}, nil
	}
	return nil, nil, fmt.Errorf("%s=%s: want step:KIND:STEP:before|after or move:EVENT[:N]", crashEnv, spec)
}
