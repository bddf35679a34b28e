package mail_test

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/mail/mailpittest"
)

func testMessage() mail.Message {
	return mail.Message{
		MessageID: "<01a216f9-0241-7213-a553-609424e9a14e@tenantd>",
		From:      testFrom,
		To:        "Ada Lovelace <ada@example.com>",
		Subject:   "Confirm your tenantd signup — schön",
		Text:      newMessage("x").Text,
		Date:      time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
	}
}

func TestFileSenderWritesParseableEML(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	s := mail.NewFileSender(dir)
	m := testMessage()
	require.NoError(t, s.Send(context.Background(), m))
	// Sending the same message again replaces its file.
	require.NoError(t, s.Send(context.Background(), m))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "one file, no temporary leftovers")
	require.Equal(t, "01a216f9-0241-7213-a553-609424e9a14e@tenantd.eml", entries[0].Name())
	require.Equal(t, filepath.Join(dir, entries[0].Name()), s.Path(m.MessageID))

	f, err := os.Open(s.Path(m.MessageID))
	require.NoError(t, err)
	defer f.Close()
	parsed, err := netmail.ReadMessage(f)
	require.NoError(t, err)
	h := parsed.Header
	require.Equal(t, m.MessageID, h.Get("Message-ID"))
	from, err := h.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, "noreply@tenantd.test", from[0].Address)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", to[0].Address)
	require.Equal(t, "Ada Lovelace", to[0].Name)
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, m.Subject, subject)
	date, err := h.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(m.Date))
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "text/plain", mediaType)
	require.Equal(t, "utf-8", strings.ToLower(params["charset"]))
	require.Equal(t, "quoted-printable", strings.ToLower(h.Get("Content-Transfer-Encoding")))
	body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	require.NoError(t, err)
	require.Equal(t, normalizeNewlines(m.Text), normalizeNewlines(string(body)))
}

func TestFileSenderNamesFilesSafely(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mail.NewFileSender(dir)
	m := testMessage()
	m.MessageID = "<../../etc/passwd@tenantd>"
	m.From = "" // the file sender has a default
	require.NoError(t, s.Send(context.Background(), m))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "_.._etc_passwd@tenantd.eml", entries[0].Name())
}

func TestSendersRejectMessagesWithoutMessageID(t *testing.T) {
	t.Parallel()
	m := testMessage()
	m.MessageID = ""
	require.Error(t, mail.NewFileSender(t.TempDir()).Send(context.Background(), m))
	s, err := mail.NewSMTPSender("smtp://127.0.0.1:1", testFrom)
	require.NoError(t, err)
	require.ErrorContains(t, s.Send(context.Background(), m), "message id")
}

func TestNewSMTPSenderParsesURLs(t *testing.T) {
	t.Parallel()
	for raw, addr := range map[string]string{
		"smtp://mail.example.com":            "mail.example.com:25",
		"smtp://mail.example.com:2525":       "mail.example.com:2525",
		"smtps://mail.example.com":           "mail.example.com:465",
		"smtp://user:p%40ss@127.0.0.1:1025":  "127.0.0.1:1025",
		"smtps://user@[::1]:4650":            "[::1]:4650",
		"smtp://mail.example.com:587/":       "mail.example.com:587",
		"smtp://apikey:secret@smtp.test:587": "smtp.test:587",
	} {
		s, err := mail.NewSMTPSender(raw, testFrom)
		require.NoError(t, err, raw)
		require.Equal(t, addr, s.Addr(), raw)
	}
	for _, raw := range []string{
		"", "mail.example.com:25", "http://mail.example.com", "smtp://", "smtp://:25",
		"smtp://mail.example.com:0", "smtp://mail.example.com:99999", "smtp://mail.example.com/path",
		"smtp://mail.example.com?tls=off", "smtp://user:pa ss@host:bad",
	} {
		_, err := mail.NewSMTPSender(raw, testFrom)
		require.Error(t, err, raw)
	}
	_, err := mail.NewSMTPSender("smtp://mail.example.com", "not an address")
	require.Error(t, err)
	_, err = mail.NewSMTPSender("smtp://user:hunter2@mail.example.com:bad", testFrom)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2", "the password stays out of errors")
}

func TestSMTPSenderAuthenticates(t *testing.T) {
	t.Parallel()
	mp := mailpittest.StartWithArgs(t, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	url := strings.Replace(mp.SMTPURL(), "smtp://", "smtp://tenantd:s3cret@", 1)
	s, err := mail.NewSMTPSender(url, testFrom)
	require.NoError(t, err)
	m := testMessage()
	m.From = "" // the sender's default applies
	require.NoError(t, s.Send(context.Background(), m))
	msgs := mp.WaitFor(t, 1, 5*time.Second)
	require.Equal(t, "tenantd", msgs[0].Username)
	require.Equal(t, "noreply@tenantd.test", msgs[0].From.Address)
	require.Equal(t, strings.Trim(m.MessageID, "<>"), msgs[0].MessageID)
}

func TestSMTPSenderFailsFast(t *testing.T) {
	t.Parallel()
	mp := mailpittest.Start(t)
	// smtps speaks TLS from the first byte; Mailpit here speaks plain SMTP.
	s, err := mail.NewSMTPSender(strings.Replace(mp.SMTPURL(), "smtp://", "smtps://", 1), testFrom)
	require.NoError(t, err)
	require.Error(t, s.Send(context.Background(), testMessage()))

	// Nothing listens on this port.
	s, err = mail.NewSMTPSender("smtp://127.0.0.1:1", testFrom)
	require.NoError(t, err)
	require.Error(t, s.Send(context.Background(), testMessage()))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err = mail.NewSMTPSender(mp.SMTPURL(), testFrom)
	require.NoError(t, err)
	require.ErrorIs(t, s.Send(ctx, testMessage()), context.Canceled)
	require.Empty(t, mp.Messages(t))
}
