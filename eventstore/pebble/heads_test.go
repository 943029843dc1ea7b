package pebble

import (
	"fmt"
	"testing"
)

// A head read from the database is kept only if no commit came between the
// look-up and the read, and the cache never holds more than its bound.
func TestHeads(t *testing.T) {
	cases := []struct {
		name string
		run  func(h *heads) (uint64, bool)
		want uint64
		ok   bool
	}{
		{"read with no commit between", func(h *heads) (uint64, bool) {
			_, _, c := h.get("s")
			h.read("s", 4, c)
			last, ok, _ := h.get("s")
			return last, ok
		}, 4, true},
		{"a commit between the look-up and the read wins", func(h *heads) (uint64, bool) {
			_, _, c := h.get("s")
			h.committed(map[string]uint64{"s": 5})
			h.read("s", 4, c) // read before the commit: older
			last, ok, _ := h.get("s")
			return last, ok
		}, 5, true},
		{"a commit of another stream between drops the read", func(h *heads) (uint64, bool) {
			_, _, c := h.get("s")
			h.committed(map[string]uint64{"t": 1})
			h.read("s", 4, c)
			last, ok, _ := h.get("s")
			return last, ok
		}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.run(newHeads(8))
			if got != c.want || ok != c.ok {
				t.Fatalf("head = %d, %v; want %d, %v", got, ok, c.want, c.ok)
			}
		})
	}
	h := newHeads(8)
	for i := range 100 {
		h.committed(map[string]uint64{fmt.Sprint("s", i): uint64(i)})
		if n := len(h.cur) + len(h.old); n > 8 {
			t.Fatalf("after %d streams the cache holds %d, bound 8", i+1, n)
		}
	}
	if last, ok, _ := h.get("s99"); !ok || last != 99 {
		t.Fatalf("the newest stream's head: %d, %v", last, ok)
	}
}
