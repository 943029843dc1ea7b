package account

import (
	"github.com/shareledger/shareledger/domain"
)

// Empty is the state of an account stream before its first event.
func Empty() *Account { return &Account{} }

// Replay brings a loaded account up to date with stored events.
func (a *Account) Replay(events ...domain.Event) { domain.Replay(a.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (a *Account) Clone() *Account {
	c := *a
	c.users, c.projects, c.changes = a.users.Clone(), a.projects.Clone(), nil
	return &c
}

// Footprint estimates the account's memory in bytes.
func (a *Account) Footprint() int64 {
	return 128 + 96*int64(a.users.Len()+a.projects.Len())
}
