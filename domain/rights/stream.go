package rights

import "github.com/shareledger/shareledger/domain"

// AccessStream is the stream of an account's roles and its users' roles
// and direct rights. See docs/consistency.md for what it protects.
func AccessStream(acc domain.AccountID) string { return "access-" + string(acc) }

// HierarchyStream is the stream of an account's hierarchy: its nodes and
// placements.
func HierarchyStream(acc domain.AccountID) string { return "hierarchy-" + string(acc) }

// CollectionStream is the stream of a fleet, team, category or report.
func CollectionStream(id ItemID) string { return "collection-" + string(id) }
