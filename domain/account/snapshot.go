package account

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
)

// snapshot is an account's state as a snapshot holds it.
type snapshot struct {
	ID           domain.AccountID       `json:"id"`
	Organization string                 `json:"organization"`
	Users        map[domain.UserID]Role `json:"users"`
	Projects     map[ProjectID]string   `json:"projects"`
}

// SnapshotVersion names the fold that snapshots of accounts hold.
func (a *Account) SnapshotVersion() string { return "account/1" }

// Snapshot encodes the account's state.
func (a *Account) Snapshot() ([]byte, error) {
	return json.Marshal(snapshot{ID: a.id, Organization: a.organization, Users: a.users.Map(), Projects: a.projects.Map()})
}

// Restore sets the state from a snapshot.
func (a *Account) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	a.id, a.organization, a.projects = s.ID, s.Organization, domain.TableOf(s.Projects)
	a.users, a.admins = domain.Table[domain.UserID, Role]{}, 0
	for u, r := range s.Users {
		a.setUser(u, r)
	}
	return nil
}
