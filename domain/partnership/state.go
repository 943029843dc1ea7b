package partnership

import (
	"slices"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
)

// Replay brings a loaded partnership up to date with stored events.
func (p *Partnership) Replay(events ...domain.Event) { domain.Replay(p.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (p *Partnership) Clone() *Partnership {
	c := *p
	c.notify, c.changes = slices.Clone(p.notify), nil
	c.shared = make(map[device.ID]*share, len(p.shared))
	for id, s := range p.shared {
		c.shared[id] = &share{owner: s.owner, use: s.use.Clone()}
	}
	return &c
}

// Footprint estimates the partnership's memory in bytes.
func (p *Partnership) Footprint() int64 {
	n := 256 + 48*int64(len(p.notify))
	for _, s := range p.shared {
		n += 128 + s.use.Footprint()
	}
	return n
}
