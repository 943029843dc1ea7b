package partnership

import (
	"slices"

	"github.com/shareledger/shareledger/domain"
)

// Replay brings a loaded partnership up to date with stored events.
func (p *Partnership) Replay(events ...domain.Event) { domain.Replay(p.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (p *Partnership) Clone() *Partnership {
	c := *p
	c.notify, c.changes = slices.Clone(p.notify), nil
	// Shares are replaced, never changed in place (see use), so the
	// clone may share them: a copy of the table is all it takes.
	c.shared = p.shared.Clone()
	return &c
}

// Footprint estimates the partnership's memory in bytes, without walking
// the shares (a share with its usage of a project or two: about 256).
func (p *Partnership) Footprint() int64 {
	return 256 + 48*int64(len(p.notify)) + 256*int64(p.shared.Len())
}
