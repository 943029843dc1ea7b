package httpapi_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
)

// FuzzVerify: no forged or mangled token is accepted, and none crashes
// the verifier; the only tokens accepted are those the key minted.
func FuzzVerify(f *testing.F) {
	keys, good := annsToken(f)
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add(strings.Replace(good, ".", "x.", 1))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbm5AYWNtZS50ZXN0In0.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		actor, err := keys.Verify(tok)
		if err != nil {
			return
		}
		if tok != good {
			t.Fatalf("a token the key did not mint was accepted: %q as %+v", tok, actor)
		}
		if actor.User != domain.UserID("ann@acme.test") || actor.Account != "acme" {
			t.Fatalf("the minted token verified as %+v", actor)
		}
	})
}

// BenchmarkVerify: a client's token, checked on each of its requests.
//
//	go test -run '^$' -bench Verify -benchmem ./commands/httpapi/
func BenchmarkVerify(b *testing.B) {
	keys, tok := annsToken(b)
	for b.Loop() {
		if _, err := keys.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// annsToken is a new key and the token it mints for ann@acme.test of
// acme, valid for an hour.
func annsToken(tb testing.TB) (*httpapi.Keys, string) {
	tb.Helper()
	keys, err := httpapi.LoadOrCreateKeys(filepath.Join(tb.TempDir(), "signing.key"))
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := keys.Mint("ann@acme.test", "acme", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return keys, tok
}
