package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/partnership"
	domainrights "github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/replay"
)

// huge is a value no command accepts today: longer than a key may be, with the key separator
// '/', a NUL and a direction override in it. The log is forever, so a log
// that holds such values (appended before the bounds) must still project.
func huge(field string, n, size int) string {
	return fmt.Sprintf("%s-%d/\x00\u202e", field, n) + strings.Repeat("x", size)
}

// hugeSize is over what each store's keys may hold: bbolt's 32 KiB, and
// the 2.7 KB of a PostgreSQL index entry.
var hugeSize = map[string]int{"embedded": 33 << 10, "postgres": 3 << 10}

// fill sets every string in v (fields, slice and map entries) to huge
// values, so that every key a projection builds from the event is oversized.
func fill(v reflect.Value, field string, n *int, size int) {
	if valid, ok := enums[v.Type()]; ok {
		v.Set(reflect.ValueOf(valid))
		return
	}
	switch v.Kind() {
	case reflect.String:
		*n++
		v.SetString(huge(field, *n, size))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), v.Type().Field(i).Name, n, size)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), field, n, size)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, field, n, size)
		fill(e, field, n, size)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// enums are the types whose stored values are checked when decoded: an
// event holds one of their values or cannot be decoded at all.
var enums = map[reflect.Type]any{
	reflect.TypeOf(team.Role{}):          team.Administrator,
	reflect.TypeOf(account.Role{}):       account.User,
	reflect.TypeOf(domainrights.Level{}): domainrights.Full,
	reflect.TypeOf(partnership.Type{}):   partnership.Rental,
}

type discard struct{}

func (discard) Send(context.Context, notify.Mail) error { return nil }

// TestEveryEventProjectsWhateverItHolds appends every event type at every
// stored version, its strings 100 KB long, straight into the event store;
// every projection applies all of them on both read-model stores (none is
// quarantined), a blue/green rebuild succeeds, and verify finds nothing.
func TestEveryEventProjectsWhateverItHolds(t *testing.T) {
	reg := catalog.New()
	all := append(modelled(), audit.Projection{})
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			size := hugeSize[st.name]
			f := newFixture(t, st.open)
			f.pairs(t, 0, 1, 2) // an ordinary history first
			n, appended := 0, 0
			for _, name := range reg.Names() {
				zero, err := reg.Decode(name, reg.Version(name), []byte(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				v := reflect.New(reflect.TypeOf(zero)).Elem()
				fill(v, name, &n, size)
				data, err := json.Marshal(v.Interface())
				if err != nil {
					t.Fatal(err)
				}
				for version := 1; version <= reg.Version(name); version++ {
					if _, err := reg.Decode(name, version, data); err != nil {
						t.Fatalf("%s v%d: %v", name, version, err)
					}
					id := fmt.Sprintf("00000000-0000-4000-8000-%012d", appended)
					appended++
					_, err := f.es.Append(ctx, "oversized-"+name, eventstore.Any(), eventstore.Event{ID: id, Type: name, Version: version, Data: data,
						Meta: eventstore.Meta{User: huge("user", n, size), Account: huge("account", n, size), CommandID: id, CorrelationID: id, Time: time.Now().UTC()}})
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			withMail := append([]projections.Projection{notify.Projection{Mailer: discard{}, Now: time.Now}}, asProjections(all)...)
			for _, p := range withMail {
				if _, err := projections.CatchUp(ctx, f.es, f.live, reg, p, eventstore.Position{}, 200); err != nil {
					t.Fatalf("%s: %v", p.Name(), err)
				}
			}
			assertNothingPoisoned(t, f.live)
			rb := replay.Rebuilder{Events: f.es, Store: f.raw, Registry: reg, Page: 200}
			if err := rb.Run(ctx, all); err != nil {
				t.Fatalf("rebuild: %v", err)
			}
			diffs, err := replay.Verify(ctx, f.es, f.live, st.open(t), reg, asProjections(all), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 0 {
				t.Fatalf("verify after the rebuild: %d differences, the first %+v", len(diffs), diffs[0])
			}
		})
	}
}

func asProjections(ps []replay.Tabled) []projections.Projection {
	out := make([]projections.Projection, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

func assertNothingPoisoned(t *testing.T, s projections.Store) {
	t.Helper()
	err := s.View(context.Background(), func(r projections.Reader) error {
		return r.Scan(context.Background(), projections.PoisonTable, projections.Page{}, func(k string, doc []byte) error {
			t.Errorf("poisoned: %s %.300s", k, doc)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
