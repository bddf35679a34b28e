package stripemock

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr has the kernel kill stripe-mock when the test binary dies
// without running its cleanups (a test timeout, a SIGKILL).
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
