package rights

import "github.com/shareledger/shareledger/domain"

// AccessStream is the stream of an account's roles and who holds them
// (and, before direct rights got a stream per user, of direct rights). See
// docs/consistency.md for what it protects.
func AccessStream(acc domain.AccountID) string { return "access-" + string(acc) }

// DirectRightsStream is the stream of one user's direct rights in an
// account: they share no rule with anyone else's, so setting them
// contends with nobody. An organization name holds no '/', so no two
// accounts' users share a stream.
func DirectRightsStream(acc domain.AccountID, user domain.UserID) string {
	return "directrights-" + string(acc) + "/" + string(user)
}

// HierarchyStream is the stream of an account's hierarchy: its nodes and
// placements.
func HierarchyStream(acc domain.AccountID) string { return "hierarchy-" + string(acc) }

// CollectionStream is the stream of a fleet, team, category or report.
func CollectionStream(id ItemID) string { return "collection-" + string(id) }
