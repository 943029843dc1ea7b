package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
)

// Pages of a filtered list hold exactly their share of matches, and their
// cursors chain through every match once, however the matches fall across
// the chunks the list scans.
func TestFilteredPagesChainThroughEveryMatch(t *testing.T) {
	store, err := rmbolt.Open(filepath.Join(t.TempDir(), "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	err = store.Update(ctx, "test", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
		for i := range 200 {
			if err := tx.Put(ctx, "t", fmt.Sprintf("acc/%03d", i), i); err != nil {
				return eventstore.Position{}, err
			}
		}
		return eventstore.At(1), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		limit int
		keep  func(n int) bool
	}{
		{"every item", 7, func(int) bool { return true }},
		{"sparse matches", 5, func(n int) bool { return n%17 == 0 }},
		{"matches after a long gap", 3, func(n int) bool { return n < 3 || n > 190 }},
		{"one page exactly", 4, func(n int) bool { return n%50 == 0 }},
		{"dense, then a thin tail", 12, func(n int) bool { return n < 11 || n%37 == 0 }},
		{"most items", 9, func(n int) bool { return n%10 != 3 }},
	}
	for _, ahead := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s (read ahead %v)", c.name, ahead), func(t *testing.T) {
				var want, got []int
				for i := range 200 {
					if c.keep(i) {
						want = append(want, i)
					}
				}
				after := ""
				for pages := 0; ; pages++ {
					if pages > 200 {
						t.Fatal("cursors do not end")
					}
					var items []int
					var next string
					err := store.View(ctx, func(r projections.Reader) error {
						p := projections.Page{Prefix: "acc/", Limit: c.limit}
						if after != "" {
							p.After = "acc/" + after
						}
						var err error
						if !ahead {
							items, next, err = projections.List(ctx, r, "t", p, func(n *int) bool { return c.keep(*n) })
							return err
						}
						seen := map[int]bool{}
						items, next, err = projections.ListAhead(ctx, r, "t", p, func(rows []int) {
							for _, n := range rows {
								seen[n] = true
							}
						}, func(n *int) bool {
							if !seen[*n] {
								t.Fatalf("%d kept before it was read ahead", *n)
							}
							return c.keep(*n)
						})
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(items) > c.limit || (next != "" && len(items) != c.limit) {
						t.Fatalf("page of %d items with next %q (limit %d)", len(items), next, c.limit)
					}
					got = append(got, items...)
					if next == "" {
						break
					}
					after = next
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("pages gave %v, want %v", got, want)
				}
			})
		}
	}
}
