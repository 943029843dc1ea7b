package httpapi

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A token accepted once is kept as verified, and still refused once it
// expires; the set of verified tokens stays bounded.
func TestVerifiedTokensExpireAndStayBounded(t *testing.T) {
	k, err := NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	k.now = func() time.Time { return now }
	tok, err := k.Mint("ann@acme.test", "acme", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if actor, err := k.Verify(tok); err != nil || actor.User != "ann@acme.test" || actor.Account != "acme" {
			t.Fatalf("Verify = %+v, %v; want ann@acme.test of acme", actor, err)
		}
	}
	if _, ok := k.verified.get(tok); !ok {
		t.Fatal("a verified token was not kept")
	}
	now = now.Add(time.Minute)
	if _, err := k.Verify(tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("an expired token that was verified before: %v, want unauthenticated", err)
	}
	forged := tok[:len(tok)-2] + "AA"
	if _, err := k.Verify(forged); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a forged token: %v, want unauthenticated", err)
	}
	if _, ok := k.verified.get(forged); ok {
		t.Fatal("a forged token was kept as verified")
	}
	for i := range maxVerified + 1 {
		tok, err := k.Mint("ann@acme.test", "acme", time.Duration(i+1)*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Verify(tok); err != nil {
			t.Fatal(fmt.Errorf("token %d: %w", i, err))
		}
	}
	if n := len(k.verified.m); n > maxVerified {
		t.Fatalf("%d tokens kept as verified, want at most %d", n, maxVerified)
	}
}
