package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Apply implements projections.Projection.
//
// The index is given every event, live and in every rebuild, and was the
// largest part of both (docs/benchmarks.md). So it reads the fields it
// knows in one pass, each string once, without a map of the payload or a
// copy of a field's name; and builds each key, the summary and the filing
// in one allocation each. What it puts is what it put through a Payload
// (TestApplyPutsAsBefore).
func (Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	var g gathering
	if err := g.Apply(ctx, tx, env); err != nil {
		return err
	}
	return g.Flush(ctx, tx)
}

// Gather implements projections.Gathering: a run's filings are written
// once at its end, one row for each entity and account the run names
// (Flush).
func (Projection) Gather() projections.Gatherer { return &gathering{} }

// gathering is a run of events being applied: each one's entry is put as
// it comes; its filings wait for the run's end.
type gathering struct {
	filed []filed // in log order
}

// filed is an event filed under an entity for an account: the entity's
// and the account's key parts (their rows in FiledFor are under
// entity/account/), and the event's position. The key is made once a
// row, at Flush, not once a filing.
type filed struct {
	entity, account string
	at              eventstore.Position
}

// compare orders filings by entity, then account.
func (f filed) compare(o filed) int {
	return cmp.Or(strings.Compare(f.entity, o.entity), strings.Compare(f.account, o.account))
}

// Apply applies one event of the run: every check an event can fail is
// made here.
func (g *gathering) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	r := env.Record
	var f fields
	if err := f.read(r.Data); err != nil {
		return err
	}
	e := Entry{
		Position: r.Position, EventID: r.ID, Type: r.Type, Version: r.Version, Stream: r.Stream, Revision: r.Revision,
		Time: r.Meta.Time, Actor: r.Meta.User, ActorAccount: r.Meta.Account, CommandID: r.Meta.CommandID,
		IdempotencyKey: r.Meta.IdempotencyKey, CorrelationID: r.Meta.CorrelationID, Data: r.Data,
	}
	accounts := make([]string, 0, 8)
	if r.Meta.Account != "" {
		accounts = append(accounts, r.Meta.Account)
	}
	for _, name := range accountFields {
		if v, ok := f.String(name); ok && v != "" {
			accounts = append(accounts, v)
		}
	}
	// A partnership's stream is the shared record of its two accounts:
	// both see everything in it (the owner sees where its shared device is
	// used, the partner what was lent to it).
	if pair, ok := partnership.AccountsOfStream(r.Stream); ok {
		for _, a := range pair {
			accounts = append(accounts, string(a))
		}
	}
	if len(accounts) > 0 {
		slices.Sort(accounts)
		e.Accounts = slices.Compact(accounts)
	}
	e.Summary = summaryOf(r, f.String, f.raw)
	var named [16]Entity
	entities := entitiesOf(r.Type, r.Stream, f.String, named[:0])
	pos := PositionKey(r.Position)
	entry, err := e.encode()
	if err != nil {
		return err
	}
	// Each position once, with the checkpoint that passes it: a key that
	// holds nothing yet (projections.Fresh).
	if err := tx.Put(ctx, Entries, pos, projections.Fresh{V: entry}); err != nil {
		return err
	}
	if len(e.Accounts) == 0 {
		return nil // no account may see it: filed under nothing
	}
	if g.filed == nil {
		g.filed = make([]filed, 0, 16)
	}
	for _, en := range entities {
		k := keyPart(en.Kind, en.ID) // Key(en.Kind, en.ID) is k + "/"
		for _, a := range e.Accounts {
			g.filed = append(g.filed, filed{k, projections.KeyPart(a), r.Position})
		}
	}
	return nil
}

// Flush writes the run's filings, by entity and account, in rows of at
// most maxPacked, each keyed by its last filing's position (FiledFor).
func (g *gathering) Flush(ctx context.Context, tx projections.Tx) error {
	g.filed = byEntity(g.filed)
	for len(g.filed) > 0 {
		first, n := g.filed[0], 1
		for n < len(g.filed) && n < maxPacked && g.filed[n].compare(first) == 0 {
			n++
		}
		row := g.filed[:n]
		g.filed = g.filed[n:]
		b := make([]byte, 0, len(first.entity)+len(first.account)+2+positionKeyLen)
		b = append(append(append(append(b, first.entity...), '/'), first.account...), '/')
		key := string(appendPositionKey(b, row[n-1].at))
		doc := oneFilingFresh
		if n > 1 {
			doc = projections.Fresh{V: encodeRun(row)}
		}
		// A row is keyed by a position its checkpoint passes: a key that
		// holds nothing yet, as an entry's.
		if err := tx.Put(ctx, FiledFor, key, doc); err != nil {
			return err
		}
	}
	return nil
}

// byEntity orders a run's filings by entity and account, each one's in
// log order. A run names few entities many times (a design names its
// device, both accounts, the project and the stream), so it counts the
// filings of each entity and account, orders those, and moves each
// filing after the ones before it: a stable sort of the filings
// themselves compared strings about n log² n times, a quarter of the
// index's CPU under load (docs/benchmarks.md).
func byEntity(fs []filed) []filed {
	if len(fs) <= smallRun {
		// A few events' filings: sorted in place, without the counts'
		// allocations.
		slices.SortStableFunc(fs, filed.compare)
		return fs
	}
	type group struct {
		first int // the index of the group's first filing in fs
		n     int // its filings
		next  int // where its next filing goes in the result
	}
	index := make(map[[2]string]int32, 32)
	groups := make([]group, 0, 32)
	ids := make([]int32, len(fs))
	for i, f := range fs {
		k := [2]string{f.entity, f.account}
		id, ok := index[k]
		if !ok {
			id = int32(len(groups))
			index[k] = id
			groups = append(groups, group{first: i})
		}
		ids[i] = id
		groups[id].n++
	}
	order := make([]int32, len(groups))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return fs[groups[a].first].compare(fs[groups[b].first]) })
	at := 0
	for _, id := range order {
		groups[id].next = at
		at += groups[id].n
	}
	// Each filing's place in the result, then the filings moved there
	// in place, a swap putting one where it belongs.
	for i := range fs {
		g := &groups[ids[i]]
		ids[i] = int32(g.next)
		g.next++
	}
	for i := range fs {
		for j := ids[i]; int(j) != i; j = ids[i] {
			fs[i], fs[j] = fs[j], fs[i]
			ids[i], ids[j] = ids[j], ids[i]
		}
	}
	return fs
}

// smallRun is the most filings byEntity sorts as they are (an insertion
// sort, below Go's threshold for merging).
const smallRun = 20

// oneFilingFresh is the row of one event, put as Fresh, held as an
// interface once (converting a struct to one allocates).
var oneFilingFresh any = projections.Fresh{V: oneFiling}

// maxPacked is the most filings a row of FiledFor holds: a history's page
// decodes at most this many beyond what it shows.
const maxPacked = 128

// encodeRun is the forRow of filings (two or more, of one entity and
// account, in log order) as json.Marshal writes it.
func encodeRun(row []filed) projections.Encoded {
	b := append(make([]byte, 0, 10+24*len(row)), `{"at":[`...)
	for i, f := range row {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendPosition(append(b, '"'), f.at), '"')
	}
	return append(b, "]}"...)
}

// knownFields are the fields of an event's data the index reads: those
// that name entities, the project, and those a summary shows.
var knownFields = func() map[string]int {
	known := map[string]int{}
	for _, names := range [][]string{entityFieldNames, {"project"}, accountFields, summaryFields} {
		for _, n := range names {
			if _, ok := known[n]; !ok {
				known[n] = len(known)
			}
		}
	}
	if len(known) > maxKnown {
		panic(fmt.Sprintf("audit: %d known fields, room for %d", len(known), maxKnown))
	}
	return known
}()

// maxKnown is room for the known fields.
const maxKnown = 24

// fields are the known fields of an event's data, each as its JSON (a
// slice of the data, where it was present), the last where one is
// repeated, as json.Unmarshal gives them; and each string once decoded.
type fields struct {
	raws    [maxKnown][]byte
	strs    [maxKnown]string
	decoded [maxKnown]uint8 // 0: not yet; 1: a string, in strs; 2: not a string
}

// read reads data's known fields. Data that PayloadOf refuses, it
// refuses with PayloadOf's error; null has no fields.
func (f *fields) read(data []byte) error {
	i := skipSpace(data, 0)
	if !json.Valid(data) || data[i] != '{' {
		_, err := PayloadOf(data)
		return err
	}
	for i = skipSpace(data, i+1); data[i] != '}'; {
		end := skipValue(data, i) // the name, a string
		at, known := -1, false
		if name := data[i+1 : end-1]; bytes.IndexByte(name, '\\') < 0 {
			// A name that is not UTF-8 is none of the known ones,
			// as it is, or as json.Unmarshal would mend it.
			at, known = knownFields[string(name)]
		} else {
			name, err := unquote(data[i:end])
			if err != nil {
				return err
			}
			at, known = knownFields[name]
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		end = skipValue(data, i)
		if known {
			f.raws[at] = data[i:end:end]
		}
		if i = skipSpace(data, end); data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return nil
}

// raw is the field name as its JSON, if the data holds it.
func (f *fields) raw(name string) ([]byte, bool) {
	at, ok := knownFields[name]
	if !ok || f.raws[at] == nil {
		return nil, false
	}
	return f.raws[at], true
}

// String is the field name if it holds a string (Payload.String).
func (f *fields) String(name string) (string, bool) {
	at, ok := knownFields[name]
	if !ok {
		return "", false
	}
	switch f.decoded[at] {
	case 1:
		return f.strs[at], true
	case 2:
		return "", false
	}
	raw := f.raws[at]
	if len(raw) < 2 || raw[0] != '"' {
		f.decoded[at] = 2
		return "", false
	}
	v, err := unquote(raw)
	if err != nil {
		f.decoded[at] = 2
		return "", false
	}
	f.strs[at], f.decoded[at] = v, 1
	return v, true
}

// raw is the field f as its JSON, if p holds it.
func (p Payload) raw(f string) ([]byte, bool) {
	v, ok := p[f]
	return v, ok
}

// summary is a readable line: who did what to what.
func summary(r eventstore.Record, p Payload) string { return summaryOf(r, p.String, p.raw) }

// summaryOf is a readable line of r, whose fields str and raw read: who
// did it (the user and account that did, or the system), what, and the
// summary's fields that it holds, each as name=value.
func summaryOf(r eventstore.Record, str func(string) (string, bool), raw func(string) ([]byte, bool)) string {
	var b strings.Builder
	b.Grow(len(r.Meta.User) + len(r.Meta.Account) + len(r.Type) + 96)
	if r.Meta.User == "" {
		b.WriteString("system")
	} else {
		b.WriteString(r.Meta.User)
	}
	if r.Meta.Account != "" {
		b.WriteString(" (")
		b.WriteString(r.Meta.Account)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(r.Type)
	b.WriteString(" ")
	first := true
	part := func(s string) {
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(s)
	}
	for _, name := range summaryFields {
		v, ok := raw(name)
		if !ok {
			continue
		}
		if s, ok := str(name); ok {
			if s != "" {
				part(name)
				b.WriteByte('=')
				b.WriteString(s)
			}
			continue
		}
		// Anything else as fmt prints what JSON decodes it to.
		var decoded any
		if json.Unmarshal(v, &decoded) == nil && decoded != nil {
			part(fmt.Sprintf("%s=%v", name, decoded))
		}
	}
	return strings.TrimSpace(b.String())
}
