package commands_test

import (
	"crypto/sha1"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
)

// The IDs commands derive are stored in the log and looked up when a
// command comes again, so they never change: each is the version 5 UUID
// of its name in the commands' namespace, as uuid.NewHash makes it.
func TestDerivedIDsAreNameBasedUUIDs(t *testing.T) {
	namespace := uuid.MustParse("6f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11")
	want := func(name string) string { return uuid.NewHash(sha1.New(), namespace, []byte(name), 5).String() }
	long := strings.Repeat("é-long-", 60) // past any buffer on the stack
	cases := []struct {
		name      string
		got, want string
	}{
		{"event", commands.EventID("cmd-1", "partnership-acme-rentco", 0), want("cmd-1\x00partnership-acme-rentco\x000")},
		{"event, later and long", commands.EventID(long, long, 12345), want(long + "\x00" + long + "\x0012345")},
		{"event, empty", commands.EventID("", "", 0), want("\x00\x000")},
		{"new", commands.NewID("cmd-1", "device"), want("device\x00cmd-1")},
		{"new, long", commands.NewID(long, "device"), want("device\x00" + long)},
		{"scoped", commands.ScopedCommandID(domain.Actor{Account: "acme", User: "ann@acme.test"}, "POST /v1/devices", "k-1"),
			want("idempotency\x00acme\x00ann@acme.test\x00POST /v1/devices\x00k-1")},
		{"scoped, long", commands.ScopedCommandID(domain.Actor{Account: "acme", User: domain.UserID(long)}, "POST /v1/devices", long),
			want(fmt.Sprintf("idempotency\x00acme\x00%s\x00POST /v1/devices\x00%s", long, long))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %s, want %s", c.got, c.want)
			}
		})
	}
}
