package audit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
)

// interleaved is a run's filings as designs make them: each event names
// one of devices devices, the two accounts of its pair, the project and
// the stream, in log order.
func interleaved(events, devices int, seed uint64) []filed {
	rnd := rand.New(rand.NewPCG(seed, 1))
	var fs []filed
	for i := range events {
		d := rnd.IntN(devices)
		pair := d % 8
		at := eventstore.Position{Commit: uint64(1000 + i), Prepare: uint64(1000 + i)}
		for _, entity := range []string{fmt.Sprintf("device/d%d", d), fmt.Sprintf("project/p%d", pair), fmt.Sprintf("stream/transfers-%d", d)} {
			for _, account := range []string{fmt.Sprintf("build%d", pair), fmt.Sprintf("rent%d", pair)} {
				fs = append(fs, filed{entity, account, at})
			}
		}
	}
	return fs
}

// byEntity orders filings as a stable sort by entity and account does.
func TestByEntityIsAStableSortByEntityAndAccount(t *testing.T) {
	at := func(n uint64) eventstore.Position { return eventstore.Position{Commit: n, Prepare: n} }
	cases := []struct {
		name string
		fs   []filed
	}{
		{"none", nil},
		{"one", []filed{{"device/d1", "acme", at(1)}}},
		{"one entity, two accounts, interleaved", []filed{{"d", "b", at(1)}, {"d", "a", at(2)}, {"d", "b", at(3)}, {"d", "a", at(4)}}},
		{"names that prefix each other", []filed{{"d/1", "a", at(1)}, {"d", "a/1", at(2)}, {"d", "a", at(3)}, {"d/1", "", at(4)}, {"", "a", at(5)}}},
		{"a design run", interleaved(1000, 64, 1)},
		{"a small run", interleaved(3, 64, 4)},
		{"a run just past the small ones", interleaved(4, 64, 5)},
		{"past a row's most, one device", interleaved(700, 1, 2)},
		{"many entities", interleaved(300, 5000, 3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := slices.Clone(c.fs)
			slices.SortStableFunc(want, filed.compare)
			if got := byEntity(slices.Clone(c.fs)); !slices.Equal(got, want) {
				t.Errorf("got\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// The run's filings ordered, as a paced run of designs gathers them, by
// byEntity and, for comparison, by the stable sort it replaced.
//
//	go test -run '^$' -bench ByEntity -benchmem ./projections/audit/
func BenchmarkByEntity(b *testing.B) {
	fs := interleaved(1000, 64, 1)
	for _, c := range []struct {
		name  string
		order func([]filed) []filed
	}{
		{"byEntity", byEntity},
		{"stable sort", func(fs []filed) []filed { slices.SortStableFunc(fs, filed.compare); return fs }},
	} {
		b.Run(c.name, func(b *testing.B) {
			work := make([]filed, len(fs))
			for b.Loop() {
				copy(work, fs)
				c.order(work)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fs)), "ns/filing")
		})
	}
}
