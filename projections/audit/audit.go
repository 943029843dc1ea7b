// Package audit projects the audit index: every event, once, with who did
// it, when, through which command, its correlation id, a readable summary,
// and the accounts entitled to see it (Entries); and filed under each
// entity it concerns (account, partnership, device, project, collection,
// node, user, role, job, cloud project) for each of those accounts
// (FiledFor). The event log stays the record; this index makes what an
// account may see of an entity's history one ordered scan of its own
// filings, whatever other accounts saw of the same entity.
package audit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Entries holds position -> Entry: each event once, whatever the number
// of entities it is filed under, stored as Entry.encode writes it.
const Entries = "audit.entries"

// FiledFor holds entity/account/position -> the positions of the events
// that name the entity and that the account may see (Entry.Accounts), in
// log order: a row of one event is {} (its position is its key's), a row
// of a run of events that a transaction gathered (a rebuild's page, or
// what the live index gathered in its pacing interval) is {"at":[...]},
// at most maxPacked of them, keyed by the last one's position. An
// entity's rows for an account never overlap, since a projection's runs
// follow each other in the log, so its filings after a position p are
// those of the rows keyed after p, in their order.
//
// It is written from 2026-12-03 (third) on, in place of Filed and Seen: a
// history is read without passing over what other accounts saw of the
// entity (an account's history of a partner's device read every event of
// the device), and whether an account knows an entity is whether it has
// a row here, so the index writes about 0.9 rows an event where it wrote
// 1.5 (docs/benchmarks.md). An event no account may see is filed under
// nothing.
const FiledFor = "audit.filedfor"

// Filed held entity/position -> the filings of every entity an event
// named (filedRow: one Filing, or those of a run of events, keyed by the
// last one's position), written until 2026-12-03 (third): the history
// before FiledFor's, in an index built before then, read until a rebuild
// leaves it empty.
const Filed = "audit.filed"

// Filing is an event filed under an entity: where its entry is, and the
// accounts entitled to see it (Entry.Accounts), so that a history is
// filtered by account before any entry is read.
//
// Where its entry is (At) is the end of its key, the entity's prefix and
// the position: filings written from 2026-12-03 on do not hold it again
// (a third of the index's largest table), and it is read from the key
// (fromKey). Those written before hold it, and it is the same.
type Filing struct {
	At       string   `json:"at,omitempty"`
	Accounts []string `json:"accounts"`
}

// fromKey sets At, where the filing does not hold it, from its key, which
// ends with its entry's position.
func (f *Filing) fromKey(key string) {
	if f.At == "" {
		f.At = key[strings.LastIndexByte(key, '/')+1:]
	}
}

// filedRow is a row of Filed. Since 2026-12-03 (second), a run of events
// that names an entity more than once files them in one row (Runs), keyed
// by the last one's position, at most maxPacked of them; one filing alone
// is written as before: a Filing, its position its key's. An entity's rows
// never overlap, since a projection's runs follow each other in the log,
// so its filings after a position p are those of the rows keyed after p,
// in their order.
type filedRow struct {
	Filing
	Runs []filedRun `json:"runs,omitempty"`
}

// filedRun is filings entitled to the same accounts, in log order.
type filedRun struct {
	Accounts []string              `json:"accounts"`
	At       []eventstore.Position `json:"at"`
}

// unpack hands each filing a row of Filed holds, in log order, to yield
// until it says to stop.
func unpack(key string, doc []byte, yield func(Filing) bool) (bool, error) {
	var row filedRow
	if err := json.Unmarshal(doc, &row); err != nil {
		return false, fmt.Errorf("audit filing %s: %w", key, err)
	}
	if len(row.Runs) == 0 {
		row.Filing.fromKey(key)
		return yield(row.Filing), nil
	}
	for _, run := range row.Runs {
		for _, p := range run.At {
			if !yield(Filing{At: PositionKey(p), Accounts: run.Accounts}) {
				return false, nil
			}
		}
	}
	return true, nil
}

// Unpack implements projections.Unpacker: a row of FiledFor means its
// filings, each as a row of its own would hold it, whichever run wrote it
// (a rebuild's pages and the live runs cut the log differently); a row
// of Filed, which an index built before 2026-12-03 (third) wrote, means
// the same filings for each of its accounts, and its marks in Seen
// nothing more; an entry means what it holds, however it is stored
// (Entry.encode).
func (Projection) Unpack(table, key string, doc []byte, yield func(table, key string, doc []byte) error) error {
	var err error
	switch table {
	case Entries:
		var e Entry
		if err := json.Unmarshal(doc, &e); err != nil {
			return fmt.Errorf("audit entry %s: %w", key, err)
		}
		stored, err := e.encode()
		if err != nil {
			return err
		}
		return yield(Entries, key, stored)
	case FiledFor:
		prefix := key[:strings.LastIndexByte(key, '/')+1]
		_, uerr := unpackFor(key, doc, func(at string) bool {
			err = yield(FiledFor, prefix+at, oneFiling)
			return err == nil
		})
		return cmp.Or(uerr, err)
	case Filed:
		entity := key[:strings.LastIndexByte(key, '/')+1]
		_, uerr := unpack(key, doc, func(f Filing) bool {
			for _, a := range f.Accounts {
				if err = yield(FiledFor, ForKey(entity, a)+f.At, oneFiling); err != nil {
					return false
				}
			}
			return true
		})
		return cmp.Or(uerr, err)
	case Seen:
		return nil
	}
	return yield(table, key, doc)
}

// forRow is a row of FiledFor: the positions of a run of events, or none
// where the row files one event, whose position is its key's.
type forRow struct {
	At []eventstore.Position `json:"at,omitempty"`
}

// oneFiling is a row of FiledFor that files one event.
var oneFiling = projections.Encoded("{}")

// unpackFor hands the PositionKey of each event a row of FiledFor files,
// in log order, to yield until it says to stop.
func unpackFor(key string, doc []byte, yield func(at string) bool) (bool, error) {
	var row forRow
	if !bytes.Equal(doc, oneFiling) {
		if err := json.Unmarshal(doc, &row); err != nil {
			return false, fmt.Errorf("audit filing %s: %w", key, err)
		}
	}
	if len(row.At) == 0 {
		return yield(key[strings.LastIndexByte(key, '/')+1:]), nil
	}
	for _, p := range row.At {
		if !yield(PositionKey(p)) {
			return false, nil
		}
	}
	return true, nil
}

// ForKey is the prefix in FiledFor of an entity (its Key) for an account.
func ForKey(entity, account string) string { return entity + projections.KeyPart(account) + "/" }

// Seen held entity/account -> true for every account that may see some
// of the entity's history (Filed), written until 2026-12-03 (third): an
// account has history in Filed only where it has a mark here.
const Seen = "audit.seen"

// Entry is one event in an entity's history.
type Entry struct {
	Position     eventstore.Position `json:"position"`
	EventID      string              `json:"eventId"`
	Type         string              `json:"type"`
	Version      int                 `json:"version"`
	Stream       string              `json:"stream"`
	Revision     uint64              `json:"revision"`
	Time         time.Time           `json:"time"`
	Actor        string              `json:"actor"`
	ActorAccount string              `json:"actorAccount"`
	CommandID    string              `json:"commandId"`
	// IdempotencyKey is the key the client sent with the command, if any.
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	CorrelationID  string          `json:"correlationId"`
	Summary        string          `json:"summary"`
	Data           json.RawMessage `json:"data"`
	// Accounts are the accounts entitled to see the event: those it names,
	// the acting one, and both parties of a partnership's events.
	Accounts []string `json:"accounts"`
}

// fields of event payloads that name entities, and the entity kind.
var entityFields = map[string]string{
	"account": "account", "requester": "account", "partner": "account", "owner": "account",
	"partnership": "partnership", "device": "device", "item": "item", "node": "node",
	"user": "user", "email": "user", "administrator": "user", "role": "role", "job": "job", "member": "member",
}

// Kinds are the kinds of entity the index files events under.
var Kinds = []string{"account", "partnership", "device", "project", "cloud-project", "item", "node", "user", "role", "job", "member", "stream"}

// accountFields name accounts, who may see the event.
var accountFields = []string{"account", "requester", "partner", "owner"}

// Entity is something an event names, which its history is filed under.
type Entity struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Payload is an event's data by its top-level fields, each as its JSON:
// the index reads a handful of them (who and what an event names, and a
// line's worth of summary), and decoding the whole of every event into
// maps and slices was most of the index's work.
type Payload map[string]json.RawMessage

// PayloadOf is the top-level fields of an event's data, as json.Unmarshal
// gives them into a Payload (the last of a repeated field wins; null is no
// fields), each value a slice of data rather than a copy. The data is
// checked to be JSON first; its top level is then walked by hand, which
// took a fifth of the index's work through encoding/json's reflection.
func PayloadOf(data []byte) (Payload, error) {
	if !json.Valid(data) {
		var p Payload
		return nil, json.Unmarshal(data, &p) // which says why
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		if bytes.HasPrefix(data[i:], []byte("null")) {
			return nil, nil
		}
		var p Payload
		return nil, json.Unmarshal(data, &p) // not an object: its error
	}
	p := Payload{}
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := skipValue(data, i) // the name, a string
		name, err := unquote(data[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		end = skipValue(data, i)
		p[name] = data[i:end:end]
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return p, nil
}

// unquote is the string a JSON string holds. One without escapes is its
// bytes between the quotes, where they are UTF-8 (json.Unmarshal would
// replace what is not).
func unquote(raw []byte) (string, error) {
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), nil
	}
	var v string
	err := json.Unmarshal(raw, &v)
	return v, err
}

// skipSpace is the index of the first byte at or after i that is not
// JSON's white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t') {
		i++
	}
	return i
}

// skipValue is the index just past the JSON value that begins at i, in
// data already known to be JSON.
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		for i++; ; i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch data[i] {
			case '"':
				i = skipValue(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number, true, false or null
		for i < len(data) && !strings.ContainsRune(" \n\r\t,}]", rune(data[i])) {
			i++
		}
		return i
	}
}

// String is the field f if it holds a string.
func (p Payload) String(f string) (string, bool) {
	raw, ok := p[f]
	if !ok || len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	v, err := unquote(raw)
	return v, err == nil
}

// EntitiesOf are the entities an event names: by the fields of its data,
// and its stream.
func EntitiesOf(typ, stream string, payload Payload) []Entity {
	return entitiesOf(typ, stream, payload.String, nil)
}

// entitiesOf appends to out the entities an event names, reading its
// string fields through str, sorted and each once.
func entitiesOf(typ, stream string, str func(f string) (string, bool), out []Entity) []Entity {
	for _, f := range entityFieldNames {
		v, ok := str(f)
		if !ok || v == "" || (f == "role" && !strings.HasPrefix(typ, "Role")) {
			continue // a user's role name is not a role of the rights model
		}
		out = append(out, Entity{entityFields[f], v})
	}
	// "project" means an account's project or a cloud project.
	if v, ok := str("project"); ok && v != "" {
		kind := "project"
		if team.IsProjectStream(stream) {
			kind = "cloud-project"
		}
		out = append(out, Entity{kind, v})
	}
	// The stream itself is an entity too (collection-x, hierarchy-acme...).
	out = append(out, Entity{"stream", stream})
	slices.SortFunc(out, func(a, b Entity) int { return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.ID, b.ID)) })
	return slices.CompactFunc(out, func(a, b Entity) bool { return a == b })
}

// entityFieldNames are the keys of entityFields, in order.
var entityFieldNames = slices.Sorted(maps.Keys(entityFields))

// Key is an entity's key prefix: kind:id/.
func Key(kind, id string) string { return keyPart(kind, id) + "/" }

// keyPart is an entity's key prefix without its '/'.
func keyPart(kind, id string) string { return projections.KeyPart(kind + ":" + id) }

// Projection maintains the index.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "audit"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// summaryFields are the fields a summary shows, in its order.
var summaryFields = []string{"device", "devices", "partnership", "partner", "requester", "owner", "item", "kind", "name", "node", "member", "user", "email", "role", "job", "project", "design", "reason"}

// Tables lists the tables the projection owns, for verification. The
// tables it no longer writes (Filed and Seen, from 2026-12-03 (third);
// before 2026-12-02, a copy of each entry under each entity) are listed
// too, empty from then on, so that the generation a rebuild replaces is
// dropped with them.
func (Projection) Tables() []string { return []string{Entries, FiledFor, Filed, Seen, retired} }

// retired held entity/position -> Entry before 2026-12-02.
const retired = "audit.entities"

// entryFormat is the first element of an entry as the index stores it
// since 2026-12-03 (third) (Entry.encode).
const entryFormat = 2

// encode is the entry as the index stores it: a JSON array of its fields
// in their order, without their names and without the summary, which is
// made again when the entry is read (UnmarshalJSON), its first element
// entryFormat. Entries are most of what the index writes, and most of
// what a rebuild writes on PostgreSQL, whose time follows the bytes; the
// names and the summary were half of an entry's bytes (docs/benchmarks.md).
// Entries stored before, as the API shows them (an object), read as they
// did. Written without reflection: an entry is encoded for every event
// the index is given.
func (e *Entry) encode() (projections.Encoded, error) {
	// A time RFC 3339 cannot hold (a year beyond 0 to 9999, a zone of a
	// day or more, or not in whole minutes): json.Marshal, which says
	// why it cannot.
	if _, off := e.Time.Zone(); e.Time.Year() < 0 || e.Time.Year() > 9999 || off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		c := *e // a copy, so that e itself stays where its caller made it
		if _, err := json.Marshal(&c); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 192+len(e.Data))
	b = append(b, '[')
	b = strconv.AppendInt(b, entryFormat, 10)
	b = append(appendPosition(append(b, `,"`...), e.Position), `",`...)
	b = append(appendString(b, e.EventID), ',')
	b = append(appendString(b, e.Type), ',')
	b = append(strconv.AppendInt(b, int64(e.Version), 10), ',')
	b = append(appendString(b, e.Stream), ',')
	b = append(strconv.AppendUint(b, e.Revision, 10), ',', '"')
	b = append(e.Time.AppendFormat(b, time.RFC3339Nano), '"', ',')
	for _, s := range []string{e.Actor, e.ActorAccount, e.CommandID, e.IdempotencyKey, e.CorrelationID} {
		b = append(appendString(b, s), ',')
	}
	if len(e.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Data...)
	}
	b = append(b, ',')
	return append(appendStrings(b, e.Accounts), ']'), nil
}

// UnmarshalJSON reads an entry as the API shows it (an object, as the
// index also stored it before 2026-12-03 (third)) or as the index stores
// it (encode's array), whose summary it makes as the index made it.
func (e *Entry) UnmarshalJSON(b []byte) error {
	if i := skipSpace(b, 0); i == len(b) || b[i] != '[' {
		type plain Entry // without this method
		return json.Unmarshal(b, (*plain)(e))
	}
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	into := []any{&e.Position, &e.EventID, &e.Type, &e.Version, &e.Stream, &e.Revision, &e.Time,
		&e.Actor, &e.ActorAccount, &e.CommandID, &e.IdempotencyKey, &e.CorrelationID, &e.Data, &e.Accounts}
	if len(a) != 1+len(into) || string(a[0]) != strconv.Itoa(entryFormat) {
		return fmt.Errorf("audit entry: an array of %d elements, not an entry of format %d", len(a), entryFormat)
	}
	for i, f := range into {
		if err := json.Unmarshal(a[1+i], f); err != nil {
			return fmt.Errorf("audit entry, element %d: %w", 1+i, err)
		}
	}
	var f fields
	_ = f.read(e.Data) // JSON, as the index checked: an error leaves no fields
	var r eventstore.Record
	r.Type, r.Meta.User, r.Meta.Account = e.Type, e.Actor, e.ActorAccount
	e.Summary = summaryOf(r, f.String, f.raw)
	return nil
}

// appendPosition appends p as its text (eventstore.Position.MarshalText),
// without quotes.
func appendPosition(b []byte, p eventstore.Position) []byte {
	b = strconv.AppendUint(b, p.Commit, 10)
	if p.Prepare != p.Commit {
		b = append(b, '.')
		b = strconv.AppendUint(b, p.Prepare, 10)
	}
	return b
}

// appendStrings appends ss as json.Marshal writes a []string: null if it
// is nil.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters, the characters
// HTML gives meaning to, U+2028 and U+2029, and bytes that are not UTF-8
// as U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// CommitEvery implements projections.Paced: while nobody waits on the
// index, its live commits are at least this far apart. Each event is
// filed under several entities, each at the end of its own range of
// Filed, so a commit rewrites a page for every entity its events name,
// however few events it holds: under load the index wrote about 150
// pages (600 KB) a commit, three for each event. Taking what came in a
// tenth of a second at once rewrote about half as many pages for the
// same events, and a design sent over HTTP took about 10% less CPU
// (docs/benchmarks.md). An auditor's read that waits on the index ends
// the wait at once.
func (Projection) CommitEvery() time.Duration { return 100 * time.Millisecond }
