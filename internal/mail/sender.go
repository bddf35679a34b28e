package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender hands a message to whatever delivers it.
type Sender interface {
	// Send delivers m. Sending the same message again (same MessageID) must
	// be harmless to the receiver beyond a recognizable duplicate.
	Send(ctx context.Context, m Message) error
}

// Message is one email ready to send.
type Message struct {
	// MessageID is the Message-ID header including its angle brackets, e.g.
	// "<0193…@tenantd>"; the same on every attempt.
	MessageID string
	// From is the sender's address; empty means the Sender's default.
	From string
	// To is the recipient's address.
	To string
	// Subject is the subject line.
	Subject string
	// Text is the plain-text body.
	Text string
	// Date is the Date header: when the message was written (not when an
	// attempt is made). Zero means now.
	Date time.Time
}

// defaultSMTPTimeout bounds connecting to the SMTP server and each exchange
// with it.
const defaultSMTPTimeout = 30 * time.Second

// SMTPSender sends messages over SMTP with go-mail, one connection per
// message. It is safe for concurrent use.
type SMTPSender struct {
	host     string
	port     int
	implicit bool // smtps: TLS from the first byte
	user     string
	pass     string
	hasUser  bool
	from     string
	timeout  time.Duration
}

// NewSMTPSender returns a Sender for an SMTP URL:
//
//	smtp://[user:password@]host[:port]   port 25 by default; STARTTLS when the
//	                                      server offers it (opportunistic)
//	smtps://[user:password@]host[:port]  port 465 by default; implicit TLS
//
// With a user the sender authenticates with PLAIN or LOGIN, whichever the
// server offers first in that order; go-mail refuses either over an
// unencrypted connection except to localhost. The user and password are
// URL-decoded. from is the sender's address used when a Message has none
// (e.g. "tenantd <noreply@example.com>"); it may be empty when every Message
// carries a From. Connecting and each exchange time out after 30 seconds, or
// sooner if the context passed to Send has an earlier deadline.
func NewSMTPSender(smtpURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", redactErr(err))
	}
	s := &SMTPSender{from: from, timeout: defaultSMTPTimeout}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("SMTP URL %s: the scheme must be smtp or smtps", u.Redacted())
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("SMTP URL %s: only scheme, user, password, host and port are supported", u.Redacted())
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("SMTP URL %s: no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		s.port, err = strconv.Atoi(p)
		if err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("SMTP URL %s: invalid port %q", u.Redacted(), p)
		}
	}
	if u.User != nil && u.User.Username() != "" {
		s.hasUser = true
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if from != "" {
		if _, err := netmail.ParseAddress(from); err != nil {
			return nil, fmt.Errorf("sender address %q: %w", from, err)
		}
	}
	return s, nil
}

// redactErr keeps a password in a malformed URL out of the error.
func redactErr(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("cannot parse URL: %w", uerr.Err)
	}
	return errors.New("cannot parse URL")
}

// Addr returns the server's host:port.
func (s *SMTPSender) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Send delivers m over a new SMTP connection. The Message-ID header is
// m.MessageID, so every attempt of one message carries the same id.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.From == "" {
		m.From = s.from
	}
	msg, err := buildMsg(m)
	if err != nil {
		return err
	}
	timeout := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			if left <= 0 {
				return context.DeadlineExceeded
			}
			timeout = left
		}
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.hasUser {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	// A client per message: go-mail's Client holds one connection and is
	// not meant to be shared by concurrent jobs.
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("SMTP client for %s: %w", s.Addr(), err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("SMTP %s: %w", s.Addr(), err)
	}
	return nil
}

// FileSender writes each message as an RFC 5322 .eml file into a directory
// instead of sending it: the development default, with no mail server
// needed. Files are named from the Message-ID ("<id@tenantd>" becomes
// "id@tenantd.eml"), so sending a message again replaces its file.
type FileSender struct {
	dir string
}

// fileSenderFrom is the sender address FileSender writes when a message has
// none.
const fileSenderFrom = "tenantd <tenantd@localhost>"

// NewFileSender returns a FileSender writing into dir, which is created on
// first use. Messages without a From get "tenantd <tenantd@localhost>".
func NewFileSender(dir string) *FileSender { return &FileSender{dir: dir} }

// Dir returns the directory the messages are written to.
func (s *FileSender) Dir() string { return s.dir }

// Path returns the file a message with the given Message-ID is written to.
func (s *FileSender) Path(messageID string) string {
	return filepath.Join(s.dir, fileName(messageID))
}

// Send writes m to its .eml file atomically: into a temporary file in the
// same directory, synced, then renamed over the final name, so a reader never
// sees half a message.
func (s *FileSender) Send(ctx context.Context, m Message) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.From == "" {
		m.From = fileSenderFrom
	}
	msg, err := buildMsg(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("mail directory: %w", err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := msg.WriteTo(f); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o640); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	if err := os.Rename(f.Name(), s.Path(m.MessageID)); err != nil {
		return fmt.Errorf("write message file: %w", err)
	}
	return nil
}

// fileName turns a Message-ID into a safe file name.
func fileName(messageID string) string {
	id := strings.Trim(strings.TrimSpace(messageID), "<>")
	b := []byte(id)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '@' || c == '+'
		if !ok {
			b[i] = '_'
		}
	}
	name := strings.TrimLeft(string(b), ".")
	return name + ".eml"
}

// buildMsg renders m as a go-mail message: plain text, UTF-8,
// quoted-printable, with the given Message-ID and Date.
func buildMsg(m Message) (*gomail.Msg, error) {
	id := strings.Trim(strings.TrimSpace(m.MessageID), "<>")
	if id == "" || !strings.Contains(id, "@") || strings.ContainsAny(id, "<> \r\n") {
		return nil, fmt.Errorf("message id %q is not <left@right>", m.MessageID)
	}
	if m.From == "" {
		return nil, fmt.Errorf("message %s has no sender address", m.MessageID)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("message %s: the subject must be a single line", m.MessageID)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("message %s: sender: %w", m.MessageID, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("message %s: recipient: %w", m.MessageID, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(id)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	return msg, nil
}
