package account

import "github.com/shareledger/shareledger/domain"

// Stream is the stream of an account: its organization name, users,
// roles and projects. See docs/consistency.md for what it protects.
func Stream(id domain.AccountID) string { return "account-" + string(id) }
