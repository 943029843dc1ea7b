package partnership

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
)

// snapshot is a partnership's state as a snapshot holds it.
type snapshot struct {
	ID        ID                         `json:"id"`
	State     State                      `json:"state"`
	Requester domain.AccountID           `json:"requester"`
	Partner   domain.AccountID           `json:"partner"`
	Type      *Type                      `json:"type,omitempty"`
	Notify    []domain.UserID            `json:"notify"`
	Shared    map[device.ID]sharedDevice `json:"shared"`
}

type sharedDevice struct {
	Owner    domain.AccountID    `json:"owner"`
	Projects []account.ProjectID `json:"projects"`
}

// SnapshotVersion names the fold that snapshots of partnerships hold.
func (p *Partnership) SnapshotVersion() string { return "partnership/1" }

// Snapshot encodes the partnership's state.
func (p *Partnership) Snapshot() ([]byte, error) {
	s := snapshot{ID: p.id, State: p.state, Requester: p.requester, Partner: p.partner, Notify: p.notify, Shared: map[device.ID]sharedDevice{}}
	if p.typ != (Type{}) {
		s.Type = &p.typ
	}
	for id, sh := range p.shared.All() {
		s.Shared[id] = sharedDevice{Owner: sh.owner, Projects: sh.use.Projects()}
	}
	return json.Marshal(s)
}

// Restore sets the state from a snapshot.
func (p *Partnership) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	p.id, p.state, p.requester, p.partner, p.notify = s.ID, s.State, s.Requester, s.Partner, s.Notify
	p.typ = Type{}
	if s.Type != nil {
		p.typ = *s.Type
	}
	p.shared = domain.Table[device.ID, *share]{}
	for id, sh := range s.Shared {
		p.shared.Set(id, &share{owner: sh.Owner, use: device.RestoreUse(sh.Projects)})
	}
	return nil
}
