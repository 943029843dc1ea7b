package device

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// snapshot is a device's state as a snapshot holds it.
type snapshot struct {
	ID       ID                  `json:"id"`
	Owner    domain.AccountID    `json:"owner"`
	Projects []account.ProjectID `json:"projects"`
	Deleted  bool                `json:"deleted,omitempty"`
}

// SnapshotVersion names the fold that snapshots of devices hold.
func (d *Device) SnapshotVersion() string { return "device/2" }

// Snapshot encodes the device's state.
func (d *Device) Snapshot() ([]byte, error) {
	return json.Marshal(snapshot{ID: d.id, Owner: d.owner, Projects: d.use.Projects(), Deleted: d.deleted})
}

// Restore sets the state from a snapshot.
func (d *Device) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	d.id, d.owner, d.use, d.deleted = s.ID, s.Owner, RestoreUse(s.Projects), s.Deleted
	return nil
}

// RestoreUse is the usage of a device in these projects.
func RestoreUse(projects []account.ProjectID) Use {
	u := Use{}
	for _, p := range projects {
		if u.projects == nil {
			u.projects = map[account.ProjectID]bool{}
		}
		u.projects[p] = true
	}
	return u
}
