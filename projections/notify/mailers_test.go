package notify_test

import (
	"context"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/projections/notify"
)

func TestDirWritesEachMailOnce(t *testing.T) {
	dir := t.TempDir()
	d := notify.Dir{Path: dir, From: "shareledger@test"}
	m := notify.Mail{ID: "evt-1-0", To: "bob@rentco.test", Subject: "ACME asks RentCo to become partners", Body: "line one\nline two\n"}
	for range 3 {
		if err := d.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != "evt-1-0.eml" {
		t.Fatalf("files = %v, want one evt-1-0.eml", files)
	}
	b, _ := os.ReadFile(files[0])
	for _, want := range []string{"Message-ID: <evt-1-0@shareledger>", "To: bob@rentco.test", "From: shareledger@test", "Subject: ACME asks RentCo", "line one\r\nline two"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("mail lacks %q:\n%s", want, b)
		}
	}
	if err := d.Send(context.Background(), notify.Mail{ID: "../escape", To: "x@test"}); err == nil {
		t.Fatal("a mail id with a path in it was accepted")
	}
}

// smtpSink is a minimal SMTP server that records the DATA it receives.
func smtpSink(t *testing.T) (addr string, got <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	out := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tp := textproto.NewConn(conn)
		_ = tp.PrintfLine("220 sink ESMTP")
		for {
			line, err := tp.ReadLine()
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.SplitN(line, " ", 2)[0]); cmd {
			case "EHLO", "HELO":
				_ = tp.PrintfLine("250 sink")
			case "DATA":
				_ = tp.PrintfLine("354 go on")
				b, _ := tp.ReadDotBytes()
				out <- string(b)
				_ = tp.PrintfLine("250 queued")
			case "QUIT":
				_ = tp.PrintfLine("221 bye")
				return
			default:
				_ = tp.PrintfLine("250 ok")
			}
		}
	}()
	return ln.Addr().String(), out
}

func TestSMTPDeliversTheMail(t *testing.T) {
	addr, got := smtpSink(t)
	s, err := notify.ParseSMTP("smtp://"+addr, "shareledger@test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notify.Mail{ID: "evt-2-1", To: "nina@rentco.test", Subject: "Hello", Body: "Body\n"}); err != nil {
		t.Fatal(err)
	}
	data := <-got
	for _, want := range []string{"Message-ID: <evt-2-1@shareledger>", "To: nina@rentco.test", "Subject: Hello", "Body"} {
		if !strings.Contains(data, want) {
			t.Errorf("delivered mail lacks %q:\n%s", want, data)
		}
	}
}

func TestParseSMTPRefusesBadAddresses(t *testing.T) {
	cases := []struct{ url, from string }{
		{"http://mail:25", "a@b"},
		{"smtp://", "a@b"},
		{"smtp://mail:25", ""},
	}
	for _, c := range cases {
		if _, err := notify.ParseSMTP(c.url, c.from); err == nil {
			t.Errorf("ParseSMTP(%q, %q) accepted", c.url, c.from)
		}
	}
}
