package memory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/memory"
	"github.com/shareledger/shareledger/projections/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{New: func(testing.TB) projections.Store { return memory.New(nil) }})
}

// A store over a base layer passes the same suite: the base is documents
// of another table, which must not show through.
func TestConformanceOverBase(t *testing.T) {
	base := memory.NewLayer(map[string]map[string][]byte{"other": {"a": []byte(`{"n":1}`)}}, nil)
	storetest.Run(t, storetest.Harness{New: func(testing.TB) projections.Store { return memory.New(base) }})
}

// Changes overlay the base: puts replace, deletes hide, scans merge in key
// order, and the base itself never changes.
func TestOverlay(t *testing.T) {
	ctx := context.Background()
	base := memory.NewLayer(map[string]map[string][]byte{
		"t": {"a": []byte(`1`), "b": []byte(`2`), "d": []byte(`4`), "x/1": []byte(`9`)},
	}, map[string]eventstore.Position{"p": eventstore.At(7)})
	delta := base.With(map[string]map[string][]byte{"t": {"a": nil, "c": []byte(`30`), "e": []byte(`5`)}}, nil)
	delta2 := delta.With(map[string]map[string][]byte{"t": {"a": []byte(`7`), "b": nil, "zz": nil}}, nil)
	if d, ok, _ := delta2.Doc(ctx, "t", "b"); ok {
		t.Errorf("a deleted document reads %s", d)
	}
	s := memory.New(base)
	err := s.Update(ctx, "p", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		if cp != eventstore.At(7) {
			t.Errorf("checkpoint from the base = %v, want 7", cp)
		}
		for _, step := range []func() error{
			func() error { return tx.Put(ctx, "t", "b", 20) },
			func() error { return tx.Put(ctx, "t", "c", 3) },
			func() error { return tx.Delete(ctx, "t", "d") },
		} {
			if err := step(); err != nil {
				return cp, err
			}
		}
		return eventstore.At(8), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		store projections.Store
		page  projections.Page
		want  string
	}{
		{"overlay", s, projections.Page{}, "a=1 b=20 c=3 x/1=9 "},
		{"overlay after b", s, projections.Page{After: "b"}, "c=3 x/1=9 "},
		{"overlay limit 2", s, projections.Page{Limit: 2}, "a=1 b=20 "},
		{"overlay prefix", s, projections.Page{Prefix: "x/"}, "x/1=9 "},
		{"base untouched", memory.New(base), projections.Page{}, "a=1 b=2 d=4 x/1=9 "},
		{"a layer of changes over the base", memory.New(delta), projections.Page{}, "b=2 c=30 d=4 e=5 x/1=9 "},
		{"changes over changes", memory.New(delta2), projections.Page{}, "a=7 c=30 d=4 e=5 x/1=9 "},
		{"changes over changes, after c", memory.New(delta2), projections.Page{After: "c", Limit: 2}, "d=4 e=5 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			err := tt.store.View(ctx, func(r projections.Reader) error {
				return r.Scan(ctx, "t", tt.page, func(k string, d []byte) error {
					var n int
					if err := json.Unmarshal(d, &n); err != nil {
						return err
					}
					got += k + "=" + string(d) + " "
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("scan = %q, want %q", got, tt.want)
			}
		})
	}
}
