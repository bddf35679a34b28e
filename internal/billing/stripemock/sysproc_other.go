//go:build !linux

package stripemock

import "os/exec"

// setSysProcAttr does nothing outside Linux: the process is killed at test
// cleanup only.
func setSysProcAttr(*exec.Cmd) {}
