package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

var safeID = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Dir is the embedded default mailer: each mail is an .eml file in a
// folder, readable with any mail client or a text editor. Sending a mail
// whose ID is already there does nothing.
type Dir struct {
	Path string
	From string
}

// Send writes the mail atomically (temporary file, then rename).
func (d Dir) Send(_ context.Context, m Mail) error {
	if !safeID.MatchString(m.ID) {
		return fmt.Errorf("mail id %q is not a safe file name", m.ID)
	}
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return err
	}
	final := filepath.Join(d.Path, m.ID+".eml")
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(d.Path, ".sending-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(render(d.From, m)); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// SMTP sends mail through an SMTP server given as smtp://user:pass@host:port.
type SMTP struct {
	Addr string
	Auth smtp.Auth
	From string
}

// ParseSMTP reads an smtp:// URL.
func ParseSMTP(raw, from string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return nil, fmt.Errorf("smtp address %q: want smtp://[user:password@]host:port", raw)
	}
	if from == "" {
		return nil, errors.New("smtp: a sender address (--mail-from) is required")
	}
	s := &SMTP{Addr: u.Host, From: from}
	if u.User != nil {
		pw, _ := u.User.Password()
		s.Auth = smtp.PlainAuth("", u.User.Username(), pw, u.Hostname())
	}
	return s, nil
}

// Send delivers the mail.
func (s *SMTP) Send(_ context.Context, m Mail) error {
	return smtp.SendMail(s.Addr, s.Auth, s.From, []string{m.To}, render(s.From, m))
}

func render(from string, m Mail) []byte {
	if from == "" {
		from = "shareledger@localhost"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Message-ID: <%s@shareledger>\r\n", m.ID)
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.Body, "\n", "\r\n"))
	return b.Bytes()
}
