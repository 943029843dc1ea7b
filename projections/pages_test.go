package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// watched is an event store whose reads a test can fail and watch: a read
// after Pages returned fails the test.
type watched struct {
	eventstore.Store
	t        *testing.T
	reads    atomic.Int32
	failAt   int32 // the read that fails (1-based; 0: none)
	returned atomic.Bool
}

var errRead = errors.New("the disk is gone")

func (w *watched) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	if w.returned.Load() {
		w.t.Error("the log was read after Pages returned")
	}
	if n := w.reads.Add(1); n == w.failAt {
		return nil, errRead
	}
	return w.Store.ReadAll(ctx, after, limit)
}

func TestPagesReadAheadInOrder(t *testing.T) {
	f := newFixture(t)
	var at []eventstore.Position
	for i := 1; i <= 10; i++ {
		at = append(at, f.append(t, tick{N: i}))
	}
	errApply := errors.New("cannot apply")
	tests := []struct {
		name    string
		from    eventstore.Position
		size    int
		until   eventstore.Position // zero: the whole log
		stop    int                 // answer the stop-th page with err (0: never)
		err     error
		failAt  int32
		cancel  bool
		want    string
		wantErr error
	}{
		{name: "the whole log, in pages of three", size: 3, want: "[1 2 3][4 5 6][7 8 9][10]"},
		{name: "after a position", from: at[4], size: 4, want: "[6 7 8 9][10]"},
		{name: "up to a position inside a page", size: 3, until: at[4], want: "[1 2 3][4 5]"},
		{name: "up to a page's end", size: 3, until: at[5], want: "[1 2 3][4 5 6]"},
		{name: "enough after two pages", size: 2, stop: 2, err: projections.ErrEnough, want: "[1 2][3 4]"},
		{name: "an apply that fails", size: 2, stop: 1, err: errApply, want: "[1 2]", wantErr: errApply},
		{name: "a read that fails", size: 2, failAt: 3, want: "[1 2][3 4]", wantErr: errRead},
		{name: "a cancelled context", size: 2, stop: 1, cancel: true, want: "[1 2]", wantErr: context.Canceled},
		{name: "nothing after the end", from: at[9], size: 2, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := &watched{Store: f.events, t: t, failAt: tc.failAt}
			keep := func(eventstore.Record) bool { return true }
			if !tc.until.IsZero() {
				keep = projections.UpTo(tc.until)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got, pages := "", 0
			err := projections.Pages(ctx, es, f.reg, tc.from, tc.size, keep, func(b projections.Batch) error {
				pages++
				var ns []int
				for _, d := range b {
					if d.Err != nil {
						return d.Err
					}
					ns = append(ns, d.Event.(tick).N)
				}
				got += fmt.Sprint(ns)
				if pages == tc.stop {
					if tc.cancel {
						cancel()
						return nil
					}
					return tc.err
				}
				return nil
			})
			es.returned.Store(true)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("pages %s, want %s", got, tc.want)
			}
		})
	}
}
