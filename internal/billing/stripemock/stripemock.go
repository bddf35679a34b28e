// Package stripemock runs stripe-mock, Stripe's official API mock, for the
// tests of any package that talks to Stripe.
//
// stripe-mock answers every documented endpoint with fixture data after
// validating the request against Stripe's OpenAPI spec. It is stateless: it
// stores nothing (a created customer cannot be fetched back with the values
// sent), never declines a card and ignores idempotency keys. A [Proxy] in
// front of it records what reached it (parameters, Idempotency-Key) and
// rewrites answers where a test needs state or an error.
//
// The binary is pinned by the Makefile and installed into bin/tools by
// `make tools`.
package stripemock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenantd/tenantd/internal/testpeer"
)

// EnvBin names the environment variable that overrides the binary's path.
const EnvBin = "STRIPE_MOCK_BIN"

// startTimeout bounds how long stripe-mock may take to load its spec and
// answer.
const startTimeout = 30 * time.Second

// Start runs a stripe-mock of its own for the test on free loopback ports
// and returns its HTTP API base URL (e.g. "http://127.0.0.1:41234"), to be
// used as the Stripe API base with any secret key such as "sk_test_123".
// The process is killed when the test ends.
//
// The binary is $STRIPE_MOCK_BIN, else bin/tools/stripe-mock under the
// module root (the nearest directory up from the working directory holding
// go.mod), else stripe-mock on PATH. If there is none the test fails: run
// `make tools`.
func Start(t testing.TB) (apiBase string) {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		t.Fatalf("stripemock: %v", err)
	}

	// Both listeners on kernel-chosen loopback ports: without an explicit
	// HTTPS address stripe-mock also binds the fixed default 12112, which
	// would clash between test processes.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	setSysProcAttr(cmd)
	var stderr testpeer.Output
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stripemock: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("stripemock: start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// stripe-mock prints "Listening for HTTP at address: 127.0.0.1:NNNNN".
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok && !found {
				found = true
				addrc <- strings.TrimSpace(a)
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // keep draining until exit
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-exited:
		t.Fatalf("stripemock: %s exited before listening: %s", bin, stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("stripemock: %s did not report its HTTP address within %v: %s", bin, startTimeout, stderr.String())
	}
	apiBase = "http://" + addr

	if err := waitReady(apiBase, exited); err != nil {
		t.Fatalf("stripemock: %s at %s: %v: %s", bin, apiBase, err, stderr.String())
	}
	return apiBase
}

// waitReady polls an endpoint until stripe-mock answers it.
func waitReady(apiBase string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("exited while starting")
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, apiBase+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /v1/customers: status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not answering after %v: %w", startTimeout, last)
}

// findBinary returns the path of the stripe-mock binary.
func findBinary() (string, error) { return testpeer.Binary("stripe-mock", EnvBin) }
