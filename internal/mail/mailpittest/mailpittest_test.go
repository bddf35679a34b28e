package mailpittest_test

import (
	"fmt"
	"net/smtp"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/mail/mailpittest"
)

func TestMailpitReceivesAndReports(t *testing.T) {
	mp := mailpittest.Start(t)
	require.True(t, strings.HasPrefix(mp.SMTPURL(), "smtp://127.0.0.1:"), mp.SMTPURL())
	require.Empty(t, mp.Messages(t))

	raw := "From: Sender <sender@example.com>\r\n" +
		"To: Ada <ada@example.com>\r\n" +
		"Subject: Hello from the test\r\n" +
		"Message-ID: <abc123@tenantd.test>\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Body line one.\r\n"
	require.NoError(t, smtp.SendMail(mp.SMTPAddr(), nil, "sender@example.com", []string{"ada@example.com"}, []byte(raw)))

	msgs := mp.WaitFor(t, 1, 5*time.Second)
	require.Len(t, msgs, 1)
	s := msgs[0]
	require.Equal(t, "abc123@tenantd.test", s.MessageID)
	require.Equal(t, "Hello from the test", s.Subject)
	require.Equal(t, "sender@example.com", s.From.Address)
	require.Len(t, s.To, 1)
	require.Equal(t, "ada@example.com", s.To[0].Address)
	require.Equal(t, "Ada", s.To[0].Name)

	d := mp.Message(t, s.ID)
	require.Equal(t, "Body line one.", strings.TrimSpace(d.Text))
	require.Equal(t, "<abc123@tenantd.test>", d.Header("Message-ID"))
	require.Equal(t, "Hello from the test", d.Header("subject"))

	require.Len(t, mp.Search(t, `subject:"Hello from the test"`), 1)
	require.Empty(t, mp.Search(t, `subject:"something else"`))

	mp.DeleteAll(t)
	require.Empty(t, mp.Messages(t))
}

func TestEachStartIsPrivate(t *testing.T) {
	a, b := mailpittest.Start(t), mailpittest.Start(t)
	require.NotEqual(t, a.SMTPURL(), b.SMTPURL())
	require.NoError(t, smtp.SendMail(a.SMTPAddr(), nil, "s@example.com", []string{"r@example.com"},
		[]byte("Subject: only a\r\n\r\nx\r\n")))
	a.WaitFor(t, 1, 5*time.Second)
	require.Empty(t, b.Messages(t))
}

// fatalTB records Fatalf instead of ending the test, so that the failure
// itself can be checked.
type fatalTB struct {
	testing.TB
	msg string
}

type fatalled struct{}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalled{})
}

func TestMissingBinaryFailsWithMakeToolsHint(t *testing.T) {
	t.Setenv("MAILPIT_BIN", filepath.Join(t.TempDir(), "no-such-mailpit"))
	f := &fatalTB{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatalled); !ok {
					panic(p)
				}
			}
		}()
		mailpittest.Start(f)
	}()
	require.Contains(t, f.msg, "make tools")
}
