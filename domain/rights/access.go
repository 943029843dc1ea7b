package rights

import (
	"maps"
	"regexp"
	"slices"

	"github.com/shareledger/shareledger/domain"
)

var (
	ErrUnknownRole  = domain.NewError(domain.NotFound, "unknown-role", "the account has no such role")
	ErrRoleAssigned = domain.NewError(domain.Conflict, "role-assigned", "the subuser has this role already")
	ErrRoleNotHeld  = domain.NewError(domain.Conflict, "role-not-held", "the subuser does not have this role")
	roleName        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$`)
)

// Access is the aggregate of an account's roles, who holds them, and the
// rights set directly on subusers. Administrators change it.
type Access struct {
	account domain.AccountID
	roles   domain.Table[string, bool]
	// held is each subuser's roles, and holders the number of subusers
	// holding each role. A subuser's set of roles is replaced, never
	// changed in place, so that copies may share it (Clone).
	held    domain.Table[domain.UserID, map[string]bool]
	holders domain.Table[string, int]
	// granted is what each role grants on public items of each kind;
	// direct the rights set directly on subusers (version 2 of the fold).
	// Their maps are replaced, never changed in place, as held's are.
	granted domain.Table[string, map[Kind]Rights]
	direct  domain.Table[domain.UserID, map[Kind]Rights]
	changes []domain.Event
}

// AccessFromHistory rebuilds an account's access rules (empty when new).
func AccessFromHistory(acc domain.AccountID, history []domain.Event) *Access {
	a := &Access{account: acc}
	for _, e := range history {
		a.apply(e)
	}
	return a
}

// Changes lists the events recorded since the rules were loaded.
func (a *Access) Changes() []domain.Event { return a.changes }

// DefineRole creates or redefines a role's rights on public items.
func (a *Access) DefineRole(by domain.Member, name string, r map[Kind]Rights) error {
	if err := by.RequireAdmin("define roles"); err != nil {
		return err
	}
	if !roleName.MatchString(name) {
		return domain.Invalidf("invalid-role-name", "role name %q must be 1 to 64 letters, digits, spaces, '.', '_' or '-'", name)
	}
	for k := range r {
		if _, err := ParseKind(string(k)); err != nil {
			return err
		}
	}
	a.record(RoleDefined{Account: a.account, Role: name, Rights: r})
	return nil
}

// Assign gives a subuser a role.
func (a *Access) Assign(by domain.Member, user domain.UserID, role string) error {
	if err := by.RequireAdmin("assign roles"); err != nil {
		return err
	}
	if !a.roles.Has(role) {
		return ErrUnknownRole.Withf("the account has no role %q", role)
	}
	if roles, _ := a.held.Get(user); roles[role] {
		return ErrRoleAssigned
	}
	a.record(RoleAssigned{Account: a.account, User: user, Role: role})
	return nil
}

// Unassign takes a role from a subuser.
func (a *Access) Unassign(by domain.Member, user domain.UserID, role string) error {
	if err := by.RequireAdmin("assign roles"); err != nil {
		return err
	}
	if roles, _ := a.held.Get(user); !roles[role] {
		return ErrRoleNotHeld
	}
	a.record(RoleUnassigned{Account: a.account, User: user, Role: role})
	return nil
}

// ErrRoleInUse refuses to delete a role someone holds.
var ErrRoleInUse = domain.NewError(domain.Conflict, "role-in-use", "the role is held by subusers; take it from them first")

// DeleteRole removes a role that no subuser holds: taking access away
// from people is done one by one, where it shows.
func (a *Access) DeleteRole(by domain.Member, name string) error {
	if err := by.RequireAdmin("delete roles"); err != nil {
		return err
	}
	if !a.roles.Has(name) {
		return ErrUnknownRole.Withf("the account has no role %q", name)
	}
	if n, _ := a.holders.Get(name); n > 0 {
		// Refused: the message names a holder, read from them all.
		var holders []string
		for u, roles := range a.held.All() {
			if roles[name] {
				holders = append(holders, string(u))
			}
		}
		slices.Sort(holders)
		return ErrRoleInUse.Withf("role %q is held by %d subusers (%s first); take it from them first", name, len(holders), holders[0])
	}
	a.record(RoleDeleted{Account: a.account, Role: name, By: by.User})
	return nil
}

// SetDirect sets a subuser's rights on public items of a kind.
func (a *Access) SetDirect(by domain.Member, user domain.UserID, k Kind, r Rights) error {
	if err := by.RequireAdmin("set rights"); err != nil {
		return err
	}
	if _, err := ParseKind(string(k)); err != nil {
		return err
	}
	a.record(DirectRightsSet{Account: a.account, User: user, Kind: k, Rights: r})
	return nil
}

func (a *Access) record(e domain.Event) {
	a.apply(e)
	a.changes = append(a.changes, e)
}

// PublicRights is what a subuser's roles and direct rights give on public
// items of a kind: the most generous of them. Roles and direct rights live
// in separate streams; a caller asks both and takes the most generous
// (Rights.Max).
func (a *Access) PublicRights(user domain.UserID, k Kind) Rights {
	direct, _ := a.direct.Get(user)
	r := direct[k]
	roles, _ := a.held.Get(user)
	for role := range roles {
		grants, _ := a.granted.Get(role)
		r = r.Max(grants[k])
	}
	return r
}

func (a *Access) apply(e domain.Event) {
	switch e := e.(type) {
	case DirectRightsSet:
		cur, _ := a.direct.Get(e.User)
		next := maps.Clone(cur)
		if next == nil {
			next = map[Kind]Rights{}
		}
		next[e.Kind] = e.Rights
		a.direct.Set(e.User, next)
	case RoleDefined:
		a.roles.Set(e.Role, true)
		a.granted.Set(e.Role, maps.Clone(e.Rights))
	case RoleDeleted:
		a.roles.Delete(e.Role)
		a.granted.Delete(e.Role)
	case RoleAssigned:
		cur, _ := a.held.Get(e.User)
		if cur[e.Role] {
			return
		}
		next := maps.Clone(cur)
		if next == nil {
			next = map[string]bool{}
		}
		next[e.Role] = true
		a.held.Set(e.User, next)
		domain.Count(&a.holders, e.Role, 1)
	case RoleUnassigned:
		cur, _ := a.held.Get(e.User)
		if !cur[e.Role] {
			return
		}
		next := maps.Clone(cur)
		delete(next, e.Role)
		a.held.Set(e.User, next)
		domain.Count(&a.holders, e.Role, -1)
	}
}
