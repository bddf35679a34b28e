// Package testpeer finds and watches the real programs tests talk to —
// stripe-mock and Mailpit, installed pinned into bin/tools by `make tools`.
package testpeer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Binary returns the path of the named test peer: the file named by the
// environment variable envVar, else <module root>/bin/tools/<name>, else
// <name> on PATH. The error says how to install it.
func Binary(name, envVar string) (string, error) {
	hint := fmt.Sprintf("run `make tools` to install the pinned %s into bin/tools (or set %s)", name, envVar)
	if p := os.Getenv(envVar); p != "" {
		if executable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable file; %s", envVar, p, hint)
	}
	if root, ok := moduleRoot(); ok {
		if p := filepath.Join(root, "bin", "tools", name); executable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", errors.New(name + " not found in $" + envVar + ", <repo>/bin/tools or PATH; " + hint)
}

// moduleRoot returns the nearest directory up from the working directory
// that holds go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Output is a buffer a child process writes to while a test may read it
// (for a failure message).
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
