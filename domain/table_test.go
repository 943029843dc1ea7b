package domain_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/domain"
)

// A table and its copies each hold what a map given the same changes
// would: random sets, deletions and copies of copies, small tables and
// large ones, every copy checked against its own map.
func TestTableIsAMapWhoseCopiesAreTheirOwn(t *testing.T) {
	for _, c := range []struct {
		name  string
		keys  int
		steps int
	}{
		{"small", 40, 3000},
		{"crossing the small size", 80, 5000},
		{"large", 20000, 60000},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.keys), 9))
			type copyOf struct {
				table domain.Table[string, int]
				model map[string]int
			}
			all := []*copyOf{{model: map[string]int{}}}
			for step := range c.steps {
				x := all[r.IntN(len(all))]
				k := fmt.Sprint("key-", r.IntN(c.keys))
				switch op := r.IntN(100); {
				case op < 60:
					x.table.Set(k, step)
					x.model[k] = step
				case op < 90:
					x.table.Delete(k)
					delete(x.model, k)
				case op < 97 || len(all) > 12:
					if v, ok := x.table.Get(k); v != x.model[k] || ok != (x.model[k] != 0 || hasKey(x.model, k)) {
						t.Fatalf("step %d: %s is %d, %v; want %d", step, k, v, ok, x.model[k])
					}
				default:
					all = append(all, &copyOf{table: x.table.Clone(), model: maps.Clone(x.model)})
				}
				if step%997 == 0 || step == c.steps-1 {
					for i, y := range all {
						if y.table.Len() != len(y.model) || !maps.Equal(y.table.Map(), y.model) {
							t.Fatalf("step %d: copy %d holds %d entries, want %d (%v)", step, i, y.table.Len(), len(y.model), maps.Equal(y.table.Map(), y.model))
						}
						// A table made of the model's entries at once (as a
						// restored state is) holds the same, and changes on
						// its own.
						made := domain.TableOf(y.model)
						if made.Len() != len(y.model) || !maps.Equal(made.Map(), y.model) {
							t.Fatalf("step %d: TableOf holds %d entries, want %d", step, made.Len(), len(y.model))
						}
						made.Set("made", 1)
						if y.table.Has("made") {
							t.Fatalf("step %d: a change to a table made of a copy's entries reached the copy", step)
						}
						for k, v := range y.model {
							if got, ok := y.table.Get(k); !ok || got != v {
								t.Fatalf("step %d: copy %d: %s is %d, %v; want %d", step, i, k, got, ok, v)
							}
						}
					}
				}
			}
			if len(all) < 5 {
				t.Fatalf("only %d copies made", len(all))
			}
		})
	}
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// A table may be copied and read from many goroutines at once while each
// copy changes on its own goroutine, as the command cache hands one state
// to several commands: run with -race.
func TestTableCopiesFromManyGoroutines(t *testing.T) {
	var cached domain.Table[int, int]
	for i := range 5000 {
		cached.Set(i, i)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for round := range 50 {
				mine := cached.Clone()
				for i := range 20 {
					mine.Set(100_000+g*1000+round*20+i, -1)
					mine.Delete(round*20 + i)
				}
				if v, ok := cached.Get(round * 20); !ok || v != round*20 || cached.Has(100_000+g*1000+round*20) {
					t.Errorf("goroutine %d: a copy's change reached the cached table", g)
					return
				}
				if mine.Len() != 5000 || mine.Has(round*20) {
					t.Errorf("goroutine %d: %d entries", g, mine.Len())
					return
				}
			}
		})
	}
	wg.Wait()
	if cached.Len() != 5000 {
		t.Fatalf("the cached table holds %d", cached.Len())
	}
	for i := range 5000 {
		if v, ok := cached.Get(i); !ok || v != i {
			t.Fatalf("the cached table changed at %d: %d, %v", i, v, ok)
		}
	}
}

// BenchmarkTableClone: copying a table, and changing one entry of the
// copy, as a command does with its aggregate, at sizes from 1,000 to
// 1,000,000 entries; against a map copied whole.
//
//	go test -run '^$' -bench TableClone -benchmem ./domain/
func BenchmarkTableClone(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		var t domain.Table[string, int]
		m := map[string]int{}
		for i := range n {
			t.Set(fmt.Sprint("vehicle-", i), i)
			m[fmt.Sprint("vehicle-", i)] = i
		}
		b.Run(fmt.Sprintf("table/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				c := t.Clone()
				c.Set("extra", i)
			}
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				c := maps.Clone(m)
				c["extra"] = i
			}
		})
	}
}
