package rights

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
)

// Reached hands each, a chunk at a time and in the order of the users
// table (after the cursor after, a user's key part as a page of Users
// gives it), the account's subusers that reach names (rights.Reach): the
// administrators, the users named, the holders of the shares named, and
// the holders of roles and direct rights that grant enough, each once.
// It stops when each says so. It reads only those subusers' rows, from
// the indexes of who holds what (Admins, Holders, Direct, Shares,
// MemberShares), never every subuser of the account.
//
// A model written before those indexes (not rebuilt since) has no
// administrator in Admins: then Reached reports false, having handed
// nothing, and the caller reads every subuser instead.
func (q Query) Reached(ctx context.Context, acc domain.AccountID, reach rights.Reach, after string, each func([]User) (stop bool, err error)) (indexed bool, err error) {
	a := string(acc)
	if after != "" {
		// A later page: the administrators' stream may be past its end,
		// so it cannot tell.
		indexed, err = q.indexed(ctx, a)
		if err != nil || !indexed {
			return false, err
		}
	}
	streams, err := q.reachStreams(ctx, a, reach)
	if err != nil {
		return true, err
	}
	for i := range streams {
		s := &streams[i]
		s.after, s.limit = after, reachChunk
		for s.table == "" && len(s.buf) > 0 && s.buf[0] <= after && after != "" {
			s.buf = s.buf[1:] // the users named, up to the cursor
		}
	}
	if err := q.fillAll(ctx, streams); err != nil {
		return true, err
	}
	if after == "" && len(streams[0].buf) == 0 {
		// A first page with no administrator indexed (the first
		// stream): a model written before the indexes. Asking first
		// would cost a round trip that every first page pays.
		return false, nil
	}
	return true, q.handOn(ctx, a, streams, each)
}

// fillAll reads the first chunk of every stream at once: the indexes are
// independent range reads, one round trip for all of them on PostgreSQL
// (projections.ScanPages) rather than one each.
func (q Query) fillAll(ctx context.Context, streams []reachStream) error {
	var pages []projections.TablePage
	var of []int // the stream of each page
	for i := range streams {
		if s := &streams[i]; len(s.buf) == 0 && !s.done {
			pages = append(pages, projections.TablePage{Table: s.table, Page: s.page()})
			of = append(of, i)
		}
	}
	scanned := make([]int, len(pages))
	err := projections.ScanPages(ctx, q.R, pages, func(i int, k string, doc []byte) error {
		scanned[i]++
		streams[of[i]].take(k, doc)
		return nil
	})
	if err != nil {
		return err
	}
	for i, p := range pages {
		streams[of[i]].read(scanned[i], p.Limit)
	}
	return nil
}

// handOn hands each the subusers of the merged streams (inChunks), a
// chunk at a time, until each says stop or the streams end.
func (q Query) handOn(ctx context.Context, acc string, streams []reachStream, each func([]User) (bool, error)) error {
	return q.inChunks(ctx, streams, reachChunk, func(parts []string) (bool, error) {
		read := q.ReadUsers
		if read == nil {
			read = func(parts []string) ([]User, error) { return q.usersAt(ctx, acc, parts) }
		}
		users, err := read(parts)
		if err != nil {
			return true, err
		}
		return each(users)
	})
}

// inChunks hands fn the key parts of the merged streams (nextReached), a
// chunk at a time: first of them, then four times the chunk before, up to
// maxReachChunk; until fn says stop or the streams end.
func (q Query) inChunks(ctx context.Context, streams []reachStream, first int, fn func(parts []string) (stop bool, err error)) error {
	for chunk := min(first, maxReachChunk); ; chunk = min(chunk*4, maxReachChunk) {
		var parts []string
		for len(parts) < chunk {
			part, ok, err := q.nextReached(ctx, streams)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			parts = append(parts, part)
		}
		if len(parts) == 0 {
			return nil
		}
		if stop, err := fn(parts); stop || err != nil {
			return err
		}
		if len(parts) < chunk {
			return nil
		}
	}
}

// reachChunk and maxReachChunk bound how many candidates Reached reads
// and hands on at once: a first page's worth, then more.
const (
	reachChunk    = 64
	maxReachChunk = 4096
)

// indexed says whether the account's administrators are indexed: every
// account has one from its opening.
func (q Query) indexed(ctx context.Context, acc string) (bool, error) {
	return q.holdsAny(ctx, Admins, Key(acc)+"/")
}

// reachStream is one index's run of users (or members), read a chunk at
// a time: the key parts after prefix, those whose document keep accepts.
type reachStream struct {
	table, prefix string
	keep          func(doc []byte) bool
	after         string   // the last key part read
	buf           []string // key parts read and not yet handed on
	limit         int      // how many rows the next read reads
	done          bool
	// folded, if not nil, keeps the member id of each key part that is
	// not the id itself (projections.KeyPart folds a long or odd one),
	// from the row's document.
	folded map[string]string
}

// MembersThrough hands each, a chunk at a time and in key order after the
// cursor after (a member's key part, as a page of members gives it), the
// members of items and the members shared with user on their own, each
// once: the candidates of a user whose member rights come only through
// particular collections. It merges those runs a chunk of each at a time
// (the first chunks in one read: one round trip on PostgreSQL), so that a
// page costs what it hands on, never the whole of a large collection. The
// first chunk holds first members (a page and one more, say; 0: 64), each
// later one four times the one before. It stops when each says so.
func (q Query) MembersThrough(ctx context.Context, acc domain.AccountID, items []rights.ItemID, user domain.UserID, after string, first int, each func([]rights.MemberID) (stop bool, err error)) error {
	a := string(acc)
	streams := make([]reachStream, 0, len(items)+1)
	for _, it := range items {
		streams = append(streams, reachStream{table: Members, prefix: Key(a, string(it)) + "/"})
	}
	streams = append(streams, reachStream{table: SharedWith, prefix: Key(a, string(user)) + "/"})
	for i := range streams {
		streams[i].after, streams[i].limit, streams[i].folded = after, reachChunk, map[string]string{}
	}
	if err := q.fillAll(ctx, streams); err != nil {
		return err
	}
	if first <= 0 {
		first = reachChunk
	}
	return q.inChunks(ctx, streams, first, func(parts []string) (bool, error) {
		ids := make([]rights.MemberID, len(parts))
		for j, part := range parts {
			id := part
			for i := range streams {
				if f, ok := streams[i].folded[part]; ok {
					id = f
					delete(streams[i].folded, part)
				}
			}
			ids[j] = rights.MemberID(id)
		}
		return each(ids)
	})
}

// reachStreams are the runs of users a reach names.
func (q Query) reachStreams(ctx context.Context, acc string, reach rights.Reach) ([]reachStream, error) {
	out := []reachStream{{table: Admins, prefix: Key(acc) + "/"}}
	var named []string
	for _, u := range reach.Users {
		named = append(named, projections.KeyPart(string(u)))
	}
	slices.Sort(named)
	out = append(out, reachStream{buf: slices.Compact(named), done: true})
	for _, it := range reach.Shared {
		out = append(out, reachStream{table: Shares, prefix: Key(acc, string(it)) + "/"})
	}
	if reach.Member != "" {
		out = append(out, reachStream{table: MemberShares, prefix: Key(acc, string(reach.Member)) + "/"})
	}
	// The subusers placed on the nodes (a node and those above it: a few
	// nodes' worth) and, if public items reach, the account's roles, in
	// one read (projections.ScanPages: one round trip on PostgreSQL).
	var pages []projections.TablePage
	for _, n := range reach.Placed {
		pages = append(pages, projections.TablePage{Table: OnNode, Page: projections.Page{Prefix: Key(acc, string(n)) + "/"}})
	}
	rolesAt := -1
	if len(reach.Public) > 0 {
		rolesAt = len(pages)
		pages = append(pages, projections.TablePage{Table: Roles, Page: projections.Page{Prefix: Key(acc) + "/"}})
	}
	var placed []string
	var roles []projections.Keyed[map[rights.Kind]rights.Rights]
	err := projections.ScanPages(ctx, q.R, pages, func(i int, k string, doc []byte) error {
		if i != rolesAt {
			placed = append(placed, k[strings.LastIndexByte(k, '/')+1:])
			return nil
		}
		r := projections.Keyed[map[rights.Kind]rights.Rights]{Key: k[len(pages[i].Prefix):]}
		roles = append(roles, r)
		return json.Unmarshal(doc, &roles[len(roles)-1].Value)
	})
	if err != nil {
		return nil, err
	}
	if len(reach.Placed) > 0 {
		slices.Sort(placed)
		out = append(out, reachStream{buf: slices.Compact(placed), done: true})
	}
	if len(reach.Public) == 0 {
		return out, nil
	}
	holders := map[string]bool{}
	direct := map[rights.Kind][]rights.PublicReach{}
	for _, p := range reach.Public {
		direct[p.Kind] = append(direct[p.Kind], p)
		for _, r := range roles {
			if p.Grants(r.Value[p.Kind]) && !holders[r.Key] {
				holders[r.Key] = true
				// The role's key part is its name's (ListKeyed hands
				// the key after the prefix).
				out = append(out, reachStream{table: Holders, prefix: Key(acc) + "/" + r.Key + "/"})
			}
		}
	}
	for k, ps := range direct {
		out = append(out, reachStream{table: Direct, prefix: Key(acc, string(k)) + "/", keep: func(doc []byte) bool {
			var r rights.Rights
			if json.Unmarshal(doc, &r) != nil {
				return true // evaluated anyway: a candidate too many costs only time
			}
			for _, p := range ps {
				if p.Grants(r) {
					return true
				}
			}
			return false
		}})
	}
	return out, nil
}

// nextReached is the least key part at the head of any stream, taken
// from every stream it heads; false when all are done.
func (q Query) nextReached(ctx context.Context, streams []reachStream) (string, bool, error) {
	least, found := "", false
	for i := range streams {
		s := &streams[i]
		if err := q.fill(ctx, s); err != nil {
			return "", false, err
		}
		if len(s.buf) > 0 && (!found || s.buf[0] < least) {
			least, found = s.buf[0], true
		}
	}
	for i := range streams {
		if s := &streams[i]; len(s.buf) > 0 && s.buf[0] == least {
			s.buf = s.buf[1:]
		}
	}
	return least, found, nil
}

// fill reads a stream's next chunk when it has handed on all it read.
func (q Query) fill(ctx context.Context, s *reachStream) error {
	for len(s.buf) == 0 && !s.done {
		page := s.page()
		scanned := 0
		err := q.R.Scan(ctx, s.table, page, func(k string, doc []byte) error {
			scanned++
			s.take(k, doc)
			return nil
		})
		if err != nil {
			return err
		}
		s.read(scanned, page.Limit)
	}
	return nil
}

// page is the stream's next chunk to read.
func (s *reachStream) page() projections.Page {
	page := projections.Page{Prefix: s.prefix, Limit: s.limit}
	if s.after != "" {
		page.After = s.prefix + s.after
	}
	return page
}

// take is a row of the stream's chunk.
func (s *reachStream) take(k string, doc []byte) {
	part := k[len(s.prefix):]
	s.after = part
	if s.keep == nil || s.keep(doc) {
		s.buf = append(s.buf, part)
	}
	// The row's document is the member's id: where it is not the key
	// part quoted (a long or odd id, folded by projections.KeyPart), the
	// id is kept.
	if s.folded != nil && (len(doc) != len(part)+2 || doc[0] != '"' || string(doc[1:len(doc)-1]) != part) {
		if id, err := projections.SetMember(k, s.prefix, doc); err == nil && id != part {
			s.folded[part] = id
		}
	}
}

// read ends a chunk of limit rows of which scanned were there: the
// stream is done if the chunk was not full, and reads more next time.
func (s *reachStream) read(scanned, limit int) {
	s.done = scanned < limit
	s.limit = min(s.limit*4, maxReachChunk)
}

// usersAt reads the subusers at key parts, in their order; a part whose
// user is gone (an index row the removal has not reached) is left out.
func (q Query) usersAt(ctx context.Context, acc string, parts []string) ([]User, error) {
	keys := make([]string, len(parts))
	for i, p := range parts {
		keys[i] = Key(acc) + "/" + p
	}
	found := make(map[string]User, len(parts))
	err := projections.GetMany(ctx, q.R, Users, keys, func(k string, doc []byte) error {
		var u User
		if err := json.Unmarshal(doc, &u); err != nil {
			return err
		}
		found[k] = u
		return nil
	})
	out := make([]User, 0, len(parts))
	for _, k := range keys {
		if u, ok := found[k]; ok {
			out = append(out, u)
		}
	}
	return out, err
}

// Searchable are the texts of a subuser that a search looks in: the name,
// lowered, and the address as it is stored. A subuser matches a search
// that one of them contains (the search lowered).
func Searchable(name string, id domain.UserID) []string {
	return []string{strings.ToLower(name), string(id)}
}

// grams are the runs of three characters of texts, each once: a text
// holds a search of three characters or more only if it holds each of
// its grams.
func grams(texts ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range texts {
		rs := []rune(t)
		for i := 0; i+gramLen <= len(rs); i++ {
			g := string(rs[i : i+gramLen])
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}

// gramLen is the length of a gram, in characters: searches shorter than
// it read every subuser (nearly every one matches them).
const gramLen = 3

// SearchIndexed says whether a search is long enough for the index of
// grams.
func SearchIndexed(search string) bool { return utf8.RuneCountInString(search) >= gramLen }

// Search hands each, a chunk at a time and in the order of the users
// table (after the cursor after), the subusers that may match search (as
// Searchable says; the caller checks each): those holding its rarest gram,
// read from the index of grams, not every subuser. search must be lowered
// and SearchIndexed. A model written before the index (not rebuilt
// since) has no grams for the account: then Search reports false, having
// handed nothing, and the caller reads every subuser instead.
func (q Query) Search(ctx context.Context, acc domain.AccountID, search string, after string, each func([]User) (stop bool, err error)) (indexed bool, err error) {
	a := string(acc)
	gs := grams(search)
	keys := make([]string, len(gs))
	for i, g := range gs {
		keys[i] = Key(a, g)
	}
	counts := map[string]int{}
	err = projections.GetMany(ctx, q.R, GramCounts, keys, func(k string, doc []byte) error {
		var n int
		err := json.Unmarshal(doc, &n)
		counts[k] = n
		return err
	})
	if err != nil {
		return true, err
	}
	rarest := ""
	for _, k := range keys {
		if counts[k] == 0 {
			// A gram no subuser holds: no one matches, if the model
			// counts grams at all (one that every gram was found in
			// does, and needs not be asked).
			return q.holdsAny(ctx, GramCounts, Key(a)+"/")
		}
		if rarest == "" || counts[k] < counts[rarest] {
			rarest = k
		}
	}
	streams := []reachStream{{table: Grams, prefix: rarest + "/", after: after, limit: reachChunk}}
	return true, q.handOn(ctx, a, streams, each)
}
