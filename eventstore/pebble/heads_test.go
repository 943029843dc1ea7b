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

// What a writer found absent is checked against the commits since its
// look-up: found if one of them stored the id, unknown (ask Pebble) once
// they are forgotten, and the memory never holds more than its bound plus
// one commit.
func TestRecentIDs(t *testing.T) {
	at := placed{seq: 9, stream: "s", rev: 2}
	cases := []struct {
		name         string
		run          func(r *recentIDs) (placed, bool, bool)
		want         placed
		found, known bool
	}{
		{"no commit since the look-up", func(r *recentIDs) (placed, bool, bool) {
			r.committed(map[string]placed{"a": at})
			return r.since("b", r.count())
		}, placed{}, false, true},
		{"a commit since stored it", func(r *recentIDs) (placed, bool, bool) {
			seen := r.count()
			r.committed(map[string]placed{"a": at})
			return r.since("a", seen)
		}, at, true, true},
		{"commits since that stored others", func(r *recentIDs) (placed, bool, bool) {
			seen := r.count()
			r.committed(map[string]placed{"x": at})
			r.committed(map[string]placed{"y": at})
			return r.since("a", seen)
		}, placed{}, false, true},
		{"so many commits since that the first is forgotten", func(r *recentIDs) (placed, bool, bool) {
			seen := r.count()
			for i := range 20 {
				r.committed(map[string]placed{fmt.Sprint("x", i): at})
			}
			return r.since("a", seen)
		}, placed{}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, found, known := c.run(newRecentIDs(8))
			if p != c.want || found != c.found || known != c.known {
				t.Fatalf("since = %+v, %v, %v; want %+v, %v, %v", p, found, known, c.want, c.found, c.known)
			}
		})
	}
	r := newRecentIDs(8)
	for i := range 100 {
		r.committed(map[string]placed{fmt.Sprint("a", i): at, fmt.Sprint("b", i): at})
		if n := len(r.cur) + len(r.old); n > 8+2 {
			t.Fatalf("after %d commits it holds %d ids, bound 8 and a commit", i+1, n)
		}
		if _, found, known := r.since(fmt.Sprint("b", i), r.count()-1); !found || !known {
			t.Fatalf("the last commit's id: found %v, known %v", found, known)
		}
	}
}
