package rights

import (
	"fmt"
	"strings"
	"testing"
)

// The cache of decoded documents keeps at most decodedBytes of them, keeps
// what was read last, and no document larger than decodedMaxDoc.
func TestDecodedCacheIsBounded(t *testing.T) {
	cases := []struct {
		name     string
		docs     int
		size     int
		kept     bool // whether the last document put is found
		maxBytes int
	}{
		{"a few small documents", 10, 100, true, decodedBytes},
		{"many more than fit", 4 * decodedBytes / 500, 500, true, decodedBytes},
		{"documents too large to keep", 10, decodedMaxDoc + 1, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := &decodedCache{}
			var last []byte
			for i := range c.docs {
				last = fmt.Appendf(nil, "%08d%s", i, strings.Repeat("x", c.size-8))
				cache.put(last, i)
				if got, ok := cache.get(last); ok != c.kept || (ok && got != i) {
					t.Fatalf("document %d: got %v, %v", i, got, ok)
				}
			}
			held := 0
			for _, m := range []map[string]any{cache.now, cache.old} {
				for k := range m {
					held += len(k)
				}
			}
			if held > c.maxBytes {
				t.Errorf("holds %d bytes of documents, more than %d", held, c.maxBytes)
			}
			if _, ok := cache.get(fmt.Appendf(nil, "%08d%s", 0, strings.Repeat("x", c.size-8))); ok && c.docs*c.size > decodedBytes {
				t.Error("the first document is still held after many times the bound")
			}
		})
	}
}
