package domain

// Member is a caller whose membership of their account the command layer
// has already checked: the rules below only need to know who they are, for
// which account they act, and whether they administer it.
type Member struct {
	User    UserID
	Account AccountID
	Admin   bool
}

// ErrNotAdministrator is raised when a rule needs an administrator of the
// account and the caller is a plain user.
var ErrNotAdministrator = NewError(Forbidden, "not-administrator", "only an administrator of the account may do this")

// RequireAdmin refuses a caller who does not administer their account.
func (m Member) RequireAdmin(what string) error {
	if !m.Admin {
		return ErrNotAdministrator.Withf("only an administrator of account %s may %s", m.Account, what)
	}
	return nil
}

// Actor is who a request says it comes from: a user acting for an account,
// before anything checked that they belong to it.
type Actor struct {
	User    UserID
	Account AccountID
}
