package rights_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/memory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/rights/rightstest"
)

// Views share the documents they decoded (by their bytes), so a request
// decodes a fleet or a subuser that an earlier one read without decoding
// it again. Each answer must still be the one its own snapshot gives:
// checks answered by many views at once equal those answered one by one,
// and a change to a document is seen by the next view.
func TestViewsAnswerFromTheirOwnSnapshot(t *testing.T) {
	ctx := context.Background()
	spec := rightstest.Peer()
	store := peerModel(t, spec)

	type check struct {
		user   domain.UserID
		item   rights.ItemID
		member rights.MemberID
	}
	var checks []check
	for i := range spec.Users {
		checks = append(checks,
			check{user: spec.User(i), item: spec.Fleet(i % spec.Fleets)},
			check{user: spec.User(i), member: spec.Vehicle(i * 37 % spec.Vehicles)})
	}
	answer := func() ([]string, error) {
		out := make([]string, len(checks))
		err := store.View(ctx, func(r projections.Reader) error {
			v := rightsmodel.Query{R: r}.Account(ctx, spec.Account)
			for i, c := range checks {
				var g rights.Grant
				var err error
				if c.item != "" {
					g, err = rights.OnItem(v, c.user, c.item)
				} else {
					g, err = rights.OnMember(v, c.user, c.member)
				}
				if err != nil {
					return err
				}
				out[i] = fmt.Sprint(g)
			}
			return v.Err()
		})
		return out, err
	}
	want, err := answer()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("many views at once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				got, err := answer()
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("check %+v: %s at once, %s alone", checks[i], got[i], want[i])
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("a changed document is read anew", func(t *testing.T) {
		// The first check is the first user's rights on a fleet: share it
		// with them to view, then in full. The share's document keeps its
		// key and changes its bytes.
		fleet := checks[0].item
		share := func(r rights.Rights) string {
			t.Helper()
			apply(t, store, rights.SharedPrivately{Account: spec.Account, Item: fleet, User: spec.User(0), Rights: r, By: spec.Administrator()})
			got, err := answer()
			if err != nil {
				t.Fatal(err)
			}
			return got[0]
		}
		viewing := share(rights.Rights{Item: rights.View, Member: rights.View})
		full := share(rights.Rights{Item: rights.Full, Member: rights.Full})
		if viewing == full {
			t.Fatalf("user 0 on %s: %s with a share to view and with a full one", fleet, full)
		}
		got, err := answer()
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(got); i++ {
			if checks[i].user != spec.User(0) && got[i] != want[i] {
				t.Errorf("check %+v changed with another user's share: %s, was %s", checks[i], got[i], want[i])
			}
		}
	})

	t.Run("a model without paths walks up a level at a time", func(t *testing.T) {
		before, err := answer()
		if err != nil {
			t.Fatal(err)
		}
		withoutTable(t, store, rightsmodel.Paths)
		got, err := answer()
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != before[i] {
				t.Errorf("check %+v without paths: %s, with them %s", checks[i], got[i], before[i])
			}
		}
	})
}

// Search reads the index of grams: the subusers holding the search's
// rarest gram, none for a gram no one holds, and, on a model written
// before the index (no counts of grams for the account), false, so that
// the caller reads every subuser instead.
func TestSearchByGrams(t *testing.T) {
	ctx := context.Background()
	spec := rightstest.Peer()
	store := peerModel(t, spec)
	search := func(text string) (bool, []domain.UserID) {
		t.Helper()
		var found []domain.UserID
		var indexed bool
		err := store.View(ctx, func(r projections.Reader) error {
			var err error
			indexed, err = rightsmodel.Query{R: r}.Search(ctx, spec.Account, text, "", func(us []rightsmodel.User) (bool, error) {
				for _, u := range us {
					found = append(found, u.ID)
				}
				return false, nil
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return indexed, found
	}
	cases := []struct {
		search  string
		indexed bool
		holds   domain.UserID // a user among those handed on
		none    bool
	}{
		{"user 1", true, spec.User(1), false},
		{"zqx", true, "", true},
	}
	for _, c := range cases {
		indexed, found := search(c.search)
		if indexed != c.indexed || (c.none && len(found) > 0) || (c.holds != "" && !slices.Contains(found, c.holds)) {
			t.Errorf("search %q: indexed %v, handed %v", c.search, indexed, found)
		}
	}
	// The model as written before the index: no counts of grams.
	withoutTable(t, store, rightsmodel.GramCounts)
	for _, text := range []string{"user 1", "zqx"} {
		if indexed, found := search(text); indexed || len(found) > 0 {
			t.Errorf("search %q of a model without grams: indexed %v, handed %v", text, indexed, found)
		}
	}
}

// A list of one kind of member reads the index of members by kind, and
// asks whether the model holds that index only when a page finds none
// there: its pages must be those of every member filtered by kind, on a
// model with the index and on one written before it, including a page
// after the last member of the kind and a kind the account has none of.
func TestMembersOfAKind(t *testing.T) {
	ctx := context.Background()
	spec := rightstest.Peer()
	store := peerModel(t, spec)
	// Every page of a kind, 300 at a time, and where each page started.
	list := func(kind rights.MemberKind, from string) (ids []rights.MemberID, pages int) {
		t.Helper()
		err := store.View(ctx, func(r projections.Reader) error {
			after := from
			for {
				pages++
				ms, next, err := rightsmodel.Query{R: r}.MembersAhead(ctx, spec.Account, kind, projections.Page{After: after, Limit: 300}, func([]rightsmodel.Member) {}, nil)
				if err != nil {
					return err
				}
				for _, m := range ms {
					if m.Kind != kind {
						return fmt.Errorf("a %s in the list of %s", m.Kind, kind)
					}
					ids = append(ids, m.ID)
				}
				if next == "" {
					return nil
				}
				after = next
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids, pages
	}
	type answer struct {
		ids   []rights.MemberID
		pages int
	}
	cases := []struct {
		kind rights.MemberKind
		from string
		n    int // members listed
	}{
		{rights.Vehicle, "", spec.Vehicles},
		{rights.Vehicle, string(spec.Vehicle(spec.Vehicles - 1)), 0},
		{rights.Driver, "", 0},
	}
	indexed := make([]answer, len(cases))
	for i, c := range cases {
		ids, pages := list(c.kind, c.from)
		if len(ids) != c.n || !slices.IsSorted(ids) {
			t.Errorf("%s after %q: %d members (sorted: %v), want %d", c.kind, c.from, len(ids), slices.IsSorted(ids), c.n)
		}
		indexed[i] = answer{ids, pages}
	}
	// The model as written before the index of members by kind.
	withoutTable(t, store, rightsmodel.KnownByKind)
	for i, c := range cases {
		ids, pages := list(c.kind, c.from)
		if !slices.Equal(ids, indexed[i].ids) || pages != indexed[i].pages {
			t.Errorf("%s after %q without the index: %d members in %d pages, want %d in %d", c.kind, c.from, len(ids), pages, len(indexed[i].ids), indexed[i].pages)
		}
	}
}

// Reached tells a model with the indexes of who holds what from one
// written before them (no administrator in Admins) by the first page's
// own read of the administrators, and a later page by asking: either way
// a model without them reports false and hands nothing, so that the
// caller reads every subuser instead.
func TestReachedTellsAModelWithoutIndexes(t *testing.T) {
	ctx := context.Background()
	spec := rightstest.Peer()
	store := peerModel(t, spec)
	reached := func(after string) (bool, []domain.UserID) {
		t.Helper()
		var indexed bool
		var handed []domain.UserID
		err := store.View(ctx, func(r projections.Reader) error {
			q := rightsmodel.Query{R: r}
			reach := rights.ReachOnItem(q.Account(ctx, spec.Account), spec.Fleet(0), rights.View)
			var err error
			indexed, err = q.Reached(ctx, spec.Account, reach, after, func(us []rightsmodel.User) (bool, error) {
				for _, u := range us {
					handed = append(handed, u.ID)
				}
				return false, nil
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return indexed, handed
	}
	if indexed, handed := reached(""); !indexed || !slices.Contains(handed, spec.Administrator()) {
		t.Fatalf("first page of an indexed model: indexed %v, handed %v", indexed, handed)
	}
	if indexed, _ := reached(string(spec.User(0))); !indexed {
		t.Fatal("a later page of an indexed model: not indexed")
	}
	// The model as written before the indexes: no administrator in Admins.
	withoutTable(t, store, rightsmodel.Admins)
	for _, after := range []string{"", string(spec.User(0))} {
		if indexed, handed := reached(after); indexed || len(handed) > 0 {
			t.Errorf("a model without indexes, after %q: indexed %v, handed %v", after, indexed, handed)
		}
	}
}

// peerModel is the rights model of spec's events, in memory.
func peerModel(t *testing.T, spec rightstest.Spec) *memory.Store {
	t.Helper()
	store := memory.New(nil)
	apply(t, store, spec.Events()...)
	return store
}

// apply applies events to store's rights model in one transaction.
func apply(t *testing.T, store projections.Store, events ...domain.Event) {
	t.Helper()
	update(t, store, func(ctx context.Context, tx projections.Tx) error {
		for _, e := range events {
			if err := (rightsmodel.Projection{}).Apply(ctx, tx, projections.Envelope{Event: e}); err != nil {
				return err
			}
		}
		return nil
	})
}

// withoutTable takes every document of table out of store's rights
// model: the model as written before that table came. A table with
// nothing to take away fails the test, which would then compare a model
// with itself.
func withoutTable(t *testing.T, store projections.Store, table string) {
	t.Helper()
	update(t, store, func(ctx context.Context, tx projections.Tx) error {
		var keys []string
		err := tx.Scan(ctx, table, projections.Page{}, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
		for _, k := range keys {
			if err == nil {
				err = tx.Delete(ctx, table, k)
			}
		}
		if err == nil && len(keys) == 0 {
			err = fmt.Errorf("the model holds nothing in %s to take away", table)
		}
		return err
	})
}

// update runs f in a transaction of store's rights model, its checkpoint
// one further.
func update(t *testing.T, store projections.Store, f func(context.Context, projections.Tx) error) {
	t.Helper()
	ctx := context.Background()
	err := store.Update(ctx, rightsmodel.Name, func(tx projections.Tx, at eventstore.Position) (eventstore.Position, error) {
		return eventstore.Position{Commit: at.Commit + 1, Prepare: at.Commit + 1}, f(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// MembersThrough hands the members of several collections and those
// shared on their own merged: each once, in key order, after the cursor,
// a chunk at a time, with a member whose key part is folded handed as its
// id, and nothing more once told to stop.
func TestMembersThroughMerges(t *testing.T) {
	ctx := context.Background()
	const acc = "acme"
	long := rights.MemberID(strings.Repeat("x", 300) + "/tail") // folded in its keys
	var everyone []rights.MemberID
	for i := range 400 {
		everyone = append(everyone, rights.MemberID(fmt.Sprintf("m%04d", i)))
	}
	// Three collections and the single shares: overlapping runs.
	runs := map[string][]rights.MemberID{"fleet-a": {}, "fleet-b": {}, "team-c": {long}}
	var single []rights.MemberID
	for i, m := range everyone {
		switch {
		case i%2 == 0:
			runs["fleet-a"] = append(runs["fleet-a"], m)
		case i%3 == 0:
			runs["fleet-b"] = append(runs["fleet-b"], m)
		}
		if i%5 == 0 {
			runs["team-c"] = append(runs["team-c"], m)
		}
		if i%7 == 0 {
			single = append(single, m)
		}
	}
	store := memory.New(nil)
	update(t, store, func(ctx context.Context, tx projections.Tx) error {
		for item, ms := range runs {
			for _, m := range ms {
				if err := tx.Put(ctx, rightsmodel.Members, rightsmodel.Key(acc, item, string(m)), m); err != nil {
					return err
				}
			}
		}
		// Another user's single shares, and another account's members.
		for _, m := range single {
			if err := errors.Join(tx.Put(ctx, rightsmodel.SharedWith, rightsmodel.Key(acc, "u@acme.test", string(m)), m),
				tx.Put(ctx, rightsmodel.SharedWith, rightsmodel.Key(acc, "other@acme.test", "x"+string(m)), m),
				tx.Put(ctx, rightsmodel.Members, rightsmodel.Key("acme2", "fleet-a", "y"+string(m)), m)); err != nil {
				return err
			}
		}
		return nil
	})
	// What it must hand: every member of the three and the single
	// shares, once, in the order of their key parts.
	want := map[string]rights.MemberID{}
	for _, ms := range append(slices.Collect(maps.Values(runs)), single) {
		for _, m := range ms {
			want[projections.KeyPart(string(m))] = m
		}
	}
	parts := slices.Sorted(maps.Keys(want))
	inOrder := func(from int) []rights.MemberID {
		var out []rights.MemberID
		for _, p := range parts[from:] {
			out = append(out, want[p])
		}
		return out
	}
	cases := []struct {
		name   string
		items  []rights.ItemID
		after  string
		first  int
		stopAt int // stop once this many are handed (0: never)
		want   []rights.MemberID
	}{
		{"all of them", []rights.ItemID{"fleet-a", "fleet-b", "team-c"}, "", 0, 0, inOrder(0)},
		{"after a cursor", []rights.ItemID{"team-c", "fleet-b", "fleet-a"}, parts[100], 0, 0, inOrder(101)},
		{"stopped after the first chunk", []rights.ItemID{"fleet-a", "fleet-b", "team-c"}, "", 0, 1, inOrder(0)[:64]},
		{"a first chunk of a page and one", []rights.ItemID{"fleet-a", "fleet-b", "team-c"}, "", 11, 1, inOrder(0)[:11]},
		{"a first chunk of a page and one, then more", []rights.ItemID{"fleet-a", "fleet-b", "team-c"}, "", 11, 12, inOrder(0)[:55]},
		{"no collection: the single shares", nil, "", 0, 0, single},
		{"a collection with no members", []rights.ItemID{"nothing"}, "", 0, 0, single},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []rights.MemberID
			var chunks []int
			err := store.View(ctx, func(r projections.Reader) error {
				return rightsmodel.Query{R: r}.MembersThrough(ctx, acc, c.items, "u@acme.test", c.after, c.first, func(ids []rights.MemberID) (bool, error) {
					got = append(got, ids...)
					chunks = append(chunks, len(ids))
					return c.stopAt > 0 && len(got) >= c.stopAt, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("handed %d members %v..., want %d", len(got), got[:min(3, len(got))], len(c.want))
			}
			// A chunk at a time, growing: never the whole run at once.
			if first := cmp.Or(c.first, 64); len(chunks) > 0 && chunks[0] > first {
				t.Errorf("chunks of %v: the first is over %d", chunks, first)
			}
		})
	}
}

// batchCounter is a reader that reads many documents at once (as
// PostgreSQL's does) and counts its reads of one document and of many.
type batchCounter struct {
	projections.Reader
	b           projections.Batched
	gets, batch int
}

func (c *batchCounter) Get(ctx context.Context, table, key string, v any) (bool, error) {
	c.gets++
	return c.Reader.Get(ctx, table, key, v)
}

func (c *batchCounter) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	c.batch++
	return c.b.GetMany(ctx, table, keys, fn)
}

func (c *batchCounter) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	c.batch++
	return c.b.ScanMany(ctx, table, prefixes, fn)
}

func (c *batchCounter) GetTables(ctx context.Context, keys []projections.TableKeys, fn func(string, string, []byte) error) error {
	c.batch++
	return c.b.GetTables(ctx, keys, fn)
}

// AheadShares reads a user's shares of many collections in one read, and
// Share then answers each, shared or not, as it would have alone.
func TestAheadSharesReadsOnce(t *testing.T) {
	ctx := context.Background()
	const acc = "acme"
	user := domain.UserID("u@acme.test")
	store, err := rmbolt.Open(filepath.Join(t.TempDir(), "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var items []rights.ItemID
	want := map[rights.ItemID]rights.Rights{}
	events := []domain.Event{account.AccountOpened{Account: acc, Organization: acc, Administrator: "admin@acme.test", Name: "Admin"},
		account.UserAdded{Account: acc, User: user, Name: "U", Role: account.User}}
	for i := range 40 {
		it := rights.ItemID(fmt.Sprint("fleet", i))
		items = append(items, it)
		events = append(events, rights.CollectionCreated{Account: acc, Item: it, Kind: rights.Fleet, Name: "F", Creator: "admin@acme.test"})
		if i%3 != 0 { // a third not shared with the user
			r := rights.Rights{Item: rights.View, Member: []rights.Level{rights.View, rights.Edit}[i%2]}
			want[it] = r
			events = append(events, rights.SharedPrivately{Account: acc, Item: it, User: user, Rights: r})
		}
	}
	apply(t, store, events...)
	err = store.View(ctx, func(r projections.Reader) error {
		c := &batchCounter{Reader: r, b: r.(projections.Batched)}
		v := rightsmodel.Query{R: c}.Account(ctx, acc)
		v.AheadShares(user, items)
		for _, it := range items {
			got, ok := v.Share(it, user)
			if w, shared := want[it]; ok != shared || got != w {
				t.Errorf("%s: share %+v %v, want %+v %v", it, got, ok, w, shared)
			}
		}
		if c.gets != 0 || c.batch != 1 {
			t.Errorf("%d reads of one document and %d of many, want none and one", c.gets, c.batch)
		}
		return v.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
