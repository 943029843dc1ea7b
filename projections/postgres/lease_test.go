package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
)

func TestLeaseIsHeldByOneAtATime(t *testing.T) {
	url, schema := pgtest.Schema(t)
	ctx := context.Background()
	a := &postgres.Lease{URL: url, Name: schema, Poll: 20 * time.Millisecond}
	b := &postgres.Lease{URL: url, Name: schema, Poll: 20 * time.Millisecond}
	heldA, releaseA, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// b waits while a holds the lease.
	tryCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, _, err := b.Acquire(tryCtx); err == nil {
		t.Fatal("b acquired a lease that a holds")
	}
	got := make(chan func(), 1)
	go func() {
		_, release, err := b.Acquire(ctx)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- release
	}()
	releaseA()
	if heldA.Err() == nil {
		t.Fatal("a's held context survived its release")
	}
	releaseB, ok := <-got
	if !ok {
		t.FailNow()
	}
	releaseB()
}
