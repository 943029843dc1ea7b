package rights

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
)

// MemberSharedPrivately: one vehicle, driver or marker is shared with one
// subuser at a member level, whatever collections hold it (the documents'
// tip: public view on all fleets, plus a private edit on one vehicle).
type MemberSharedPrivately struct {
	Account domain.AccountID `json:"account"`
	Member  MemberID         `json:"member"`
	Kind    MemberKind       `json:"kind"`
	User    domain.UserID    `json:"user"`
	Level   Level            `json:"level"`
	By      domain.UserID    `json:"by"`
}

// MemberShareRevoked: the subuser's private share of the member ended.
type MemberShareRevoked struct {
	Account domain.AccountID `json:"account"`
	Member  MemberID         `json:"member"`
	User    domain.UserID    `json:"user"`
	By      domain.UserID    `json:"by"`
}

func (MemberSharedPrivately) EventType() string { return "MemberSharedPrivately" }
func (MemberSharedPrivately) EventVersion() int { return 1 }
func (MemberShareRevoked) EventType() string    { return "MemberShareRevoked" }
func (MemberShareRevoked) EventVersion() int    { return 1 }

// MemberSharesStream is the stream of one member's private shares: they
// share no rule with any other member's.
func MemberSharesStream(acc domain.AccountID, m MemberID) string {
	return "membershares-" + string(acc) + "/" + string(m)
}

// MemberShares is the aggregate of one vehicle's, driver's or marker's
// private shares. Administrators change it.
type MemberShares struct {
	account domain.AccountID
	member  MemberID
	kind    MemberKind
	shares  domain.Table[domain.UserID, Level]
	changes []domain.Event
}

// EmptyMemberShares is a member's shares before the first.
func EmptyMemberShares(acc domain.AccountID, m MemberID) *MemberShares {
	return &MemberShares{account: acc, member: m}
}

// Share gives a subuser member rights on the member.
func (s *MemberShares) Share(by domain.Member, kind MemberKind, user domain.UserID, l Level) error {
	if err := by.RequireAdmin("share a single vehicle, driver or marker"); err != nil {
		return err
	}
	if kind == User || kind == "" {
		return ErrWrongMember.Withf("a private share names a vehicle, driver or marker, not a %q", kind)
	}
	if s.kind != "" && s.kind != kind {
		return ErrWrongMember.Withf("%s is a %s, not a %s", s.member, s.kind, kind)
	}
	if l == None {
		return ErrNoRights
	}
	if cur, ok := s.shares.Get(user); ok && cur == l {
		return nil
	}
	s.record(MemberSharedPrivately{Account: s.account, Member: s.member, Kind: kind, User: user, Level: l, By: by.User})
	return nil
}

// Revoke ends a subuser's private share of the member.
func (s *MemberShares) Revoke(by domain.Member, user domain.UserID) error {
	if err := by.RequireAdmin("revoke a share of a single vehicle, driver or marker"); err != nil {
		return err
	}
	if !s.shares.Has(user) {
		return ErrNotShared
	}
	s.record(MemberShareRevoked{Account: s.account, Member: s.member, User: user, By: by.User})
	return nil
}

// Changes lists the events recorded since the shares were loaded.
func (s *MemberShares) Changes() []domain.Event { return s.changes }

func (s *MemberShares) record(e domain.Event) {
	s.apply(e)
	s.changes = append(s.changes, e)
}

func (s *MemberShares) apply(e domain.Event) {
	switch e := e.(type) {
	case MemberSharedPrivately:
		s.kind = e.Kind
		s.shares.Set(e.User, e.Level)
	case MemberShareRevoked:
		s.shares.Delete(e.User)
	}
}

// Replay brings loaded shares up to date with stored events.
func (s *MemberShares) Replay(events ...domain.Event) { domain.Replay(s.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (s *MemberShares) Clone() *MemberShares {
	c := *s
	c.shares, c.changes = s.shares.Clone(), nil
	return &c
}

// Footprint estimates the shares' memory in bytes.
func (s *MemberShares) Footprint() int64 { return 128 + 64*int64(s.shares.Len()) }

type memberSharesSnapshot struct {
	Account domain.AccountID        `json:"account"`
	Member  MemberID                `json:"member"`
	Kind    MemberKind              `json:"kind"`
	Shares  map[domain.UserID]Level `json:"shares"`
}

// SnapshotVersion names the fold that snapshots of member shares hold.
func (s *MemberShares) SnapshotVersion() string { return "membershares/1" }

// Snapshot encodes the shares' state.
func (s *MemberShares) Snapshot() ([]byte, error) {
	return json.Marshal(memberSharesSnapshot{Account: s.account, Member: s.member, Kind: s.kind, Shares: s.shares.Map()})
}

// Restore sets the state from a snapshot.
func (s *MemberShares) Restore(data []byte) error {
	var snap memberSharesSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return err
	}
	s.account, s.member, s.kind, s.shares = snap.Account, snap.Member, snap.Kind, domain.TableOf(snap.Shares)
	return nil
}
