package projections_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shareledger/shareledger/projections"
)

func TestKeyPartsAreBoundedAndDistinct(t *testing.T) {
	long := strings.Repeat("ü", 40<<10)
	cases := []struct {
		name string
		in   string
		same bool // kept as it is
	}{
		{"an id", "truck-7", true},
		{"an address", "ann@acme.example", true},
		{"at the limit", strings.Repeat("a", projections.MaxKeyPart), true},
		{"over the limit", strings.Repeat("a", projections.MaxKeyPart+1), false},
		{"40 KB", long, false},
		{"40 KB and one more", long + "x", false},
		{"a separator", "a/b", false},
		{"a NUL", "a\x00b", false},
		{"not UTF-8", "a\xffb", false},
		{"beyond ASCII", "Zoë Ünal", true},
		{"beyond ASCII, with a separator", "ü/ü", false},
		{"beyond ASCII, then not UTF-8", "ü\xff", false},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := projections.KeyPart(c.in)
		if (got == c.in) != c.same {
			t.Errorf("%s: KeyPart = %.80q", c.name, got)
		}
		if len(got) > projections.MaxKeyPart+64 || strings.ContainsAny(got, "/\x00") || !utf8.ValidString(got) {
			t.Errorf("%s: KeyPart = %.80q is not a safe key part", c.name, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s share the key part %.80q", c.name, other, got)
		}
		seen[got] = c.name
	}
	if k := projections.Key("acme", long, "v1"); strings.Count(k, "/") != 2 || !strings.HasPrefix(k, "acme/") || !strings.HasSuffix(k, "/v1") {
		t.Errorf("Key with a long part: %.120q", k)
	}
	// Key leaves the caller's parts as they were, however many.
	parts := []string{"a/b", "c", "d", "e", "f", "g", "h", "i", "j/k", "l"}
	if k := projections.Key(parts...); strings.Count(k, "/") != len(parts)-1 || parts[0] != "a/b" || parts[8] != "j/k" {
		t.Errorf("Key(%q) = %q", parts, k)
	}
}
