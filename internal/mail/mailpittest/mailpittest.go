// Package mailpittest runs a real Mailpit (an SMTP server that keeps what it
// receives and shows it over an HTTP API) for tests that send email.
//
// The binary is found at $MAILPIT_BIN, else at bin/tools/mailpit in the
// repository (installed by `make tools`), else on PATH. A missing binary
// fails the test: mail tests never skip.
package mailpittest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tenantd/tenantd/internal/testpeer"
)

// Mailpit is a running Mailpit on loopback ports, private to one test.
type Mailpit struct {
	smtpAddr string
	httpBase string
	http     *http.Client
	out      *testpeer.Output
}

// Address is an email address as Mailpit's API reports it.
type Address struct {
	Name    string
	Address string
}

// Summary is a message in Mailpit's message list (GET /api/v1/messages).
type Summary struct {
	// ID is Mailpit's database id, for Message.
	ID string
	// MessageID is the Message-ID header without its angle brackets.
	MessageID string
	From      Address
	To        []Address
	Cc        []Address
	Subject   string
	// Username is the SMTP AUTH user the message was sent with, if any.
	Username string
	Created  time.Time
	Snippet  string
	Tags     []string
}

// Detail is one message (GET /api/v1/message/{id}) with its headers (GET
// /api/v1/message/{id}/headers).
type Detail struct {
	ID string
	// MessageID is the Message-ID header without its angle brackets.
	MessageID string
	From      Address
	To        []Address
	Cc        []Address
	Subject   string
	Date      time.Time
	// Text is the decoded plain-text body.
	Text string
	// HTML is the decoded HTML body, if any.
	HTML     string
	Username string
	Size     uint64
	// Headers are the raw headers, keyed canonically (textproto), e.g.
	// "Message-Id".
	Headers map[string][]string `json:"-"`
}

// Header returns the first value of the named header, or "".
func (d Detail) Header(name string) string {
	if v := d.Headers[textproto.CanonicalMIMEHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Start starts a Mailpit for the test on free loopback ports with a database
// in a temporary directory, waits until its API answers and stops it when the
// test ends.
func Start(t testing.TB) *Mailpit {
	t.Helper()
	return StartWithArgs(t)
}

// StartWithArgs is Start with extra Mailpit flags, e.g.
// "--smtp-auth-accept-any", "--smtp-auth-allow-insecure".
func StartWithArgs(t testing.TB, extra ...string) *Mailpit {
	t.Helper()
	bin := findBinary(t)
	dir := t.TempDir()
	var lastErr error
	// A free port found here can be taken before Mailpit binds it; retry
	// with new ports when that happens.
	for try := 0; try < 3; try++ {
		mp, err := start(t, bin, filepath.Join(dir, "mailpit-"+strconv.Itoa(try)+".db"), extra)
		if err == nil {
			return mp
		}
		lastErr = err
	}
	t.Fatalf("mailpittest: start %s: %v", bin, lastErr)
	return nil
}

func start(t testing.TB, bin, dbPath string, extra []string) (*Mailpit, error) {
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	mp := &Mailpit{
		smtpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort)),
		httpBase: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		http:     &http.Client{Timeout: 10 * time.Second},
		out:      &testpeer.Output{},
	}
	args := append([]string{
		"--smtp", mp.smtpAddr,
		"--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		"--database", dbPath,
		"--disable-version-check",
		"--smtp-disable-rdns",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = mp.out, mp.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("mailpit exited early:\n%s", mp.out.String())
		default:
		}
		if mp.ready() {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("mailpit did not answer on %s within 15s:\n%s", mp.httpBase, mp.out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("mailpit output:\n%s", mp.out.String())
		}
	})
	return mp, nil
}

// ready reports whether the HTTP API and the SMTP port both answer.
func (mp *Mailpit) ready() bool {
	resp, err := mp.http.Get(mp.httpBase + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	conn, err := net.DialTimeout("tcp", mp.smtpAddr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// SMTPURL returns the SMTP server's URL, smtp://127.0.0.1:port.
func (mp *Mailpit) SMTPURL() string { return "smtp://" + mp.smtpAddr }

// SMTPAddr returns the SMTP server's host:port.
func (mp *Mailpit) SMTPAddr() string { return mp.smtpAddr }

// APIURL returns the base URL of the HTTP API and web UI.
func (mp *Mailpit) APIURL() string { return mp.httpBase }

// Messages returns every stored message, newest first.
func (mp *Mailpit) Messages(t testing.TB) []Summary {
	t.Helper()
	var res messagesResponse
	mp.get(t, "/api/v1/messages?limit=1000", &res)
	return res.Messages
}

// Search returns the messages matching a Mailpit search query, e.g.
// `subject:"Welcome"` or `to:ada@example.com`, newest first.
func (mp *Mailpit) Search(t testing.TB, query string) []Summary {
	t.Helper()
	var res messagesResponse
	mp.get(t, "/api/v1/search?limit=1000&query="+url.QueryEscape(query), &res)
	return res.Messages
}

// Message returns the message with Mailpit id id, with its headers.
func (mp *Mailpit) Message(t testing.TB, id string) Detail {
	t.Helper()
	var d Detail
	mp.get(t, "/api/v1/message/"+url.PathEscape(id), &d)
	mp.get(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &d.Headers)
	return d
}

// WaitFor waits until Mailpit holds at least n messages and returns all of
// them, newest first; it fails the test after timeout.
func (mp *Mailpit) WaitFor(t testing.TB, n int, timeout time.Duration) []Summary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := mp.Messages(t)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpittest: %d message(s) after %s, want %d", len(msgs), timeout, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// DeleteAll deletes every stored message.
func (mp *Mailpit) DeleteAll(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, mp.httpBase+"/api/v1/messages", nil)
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	resp, err := mp.http.Do(req)
	if err != nil {
		t.Fatalf("mailpittest: delete messages: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("mailpittest: delete messages: %s: %s", resp.Status, body)
	}
}

type messagesResponse struct {
	Total    int       `json:"total"`
	Messages []Summary `json:"messages"`
}

func (mp *Mailpit) get(t testing.TB, path string, into any) {
	t.Helper()
	resp, err := mp.http.Get(mp.httpBase + path)
	if err != nil {
		t.Fatalf("mailpittest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("mailpittest: GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpittest: GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("mailpittest: GET %s: decode: %v\n%s", path, err, body)
	}
}

// findBinary returns the Mailpit binary to run or fails the test.
func findBinary(t testing.TB) string {
	t.Helper()
	bin, err := testpeer.Binary("mailpit", "MAILPIT_BIN")
	if err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	return bin
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
