package rights

import "github.com/shareledger/shareledger/domain"

var (
	ErrUnknownNode  = domain.NewError(domain.NotFound, "unknown-node", "no such hierarchy node")
	ErrNodeExists   = domain.NewError(domain.Conflict, "node-exists", "a node with this id exists already")
	ErrSecondRoot   = domain.NewError(domain.Conflict, "second-root", "the hierarchy has a root already; name a parent")
	ErrCycle        = domain.NewError(domain.Conflict, "hierarchy-cycle", "a node cannot move under itself or its own descendants")
	ErrMoveRoot     = domain.NewError(domain.Conflict, "move-root", "the root of the hierarchy cannot move")
	ErrAlreadyThere = domain.NewError(domain.Conflict, "already-placed", "the member is placed on this node already")
	ErrNodeNotEmpty = domain.NewError(domain.Conflict, "node-not-empty", "the node has child nodes or something placed on it; move or unplace them first")
)

// Hierarchy is the aggregate of an account's tree of nodes and of the
// users, vehicles and drivers placed on them. Administrators change it.
type Hierarchy struct {
	account domain.AccountID
	parent  domain.Table[ItemID, ItemID]
	root    ItemID
	placed  domain.Table[MemberID, ItemID]
	// children and occupants count each node's child nodes and what is
	// placed on it, so that an empty node is known without reading them.
	children  domain.Table[ItemID, int]
	occupants domain.Table[ItemID, int]
	changes   []domain.Event
}

// HierarchyFromHistory rebuilds an account's hierarchy (empty when new).
func HierarchyFromHistory(acc domain.AccountID, history []domain.Event) *Hierarchy {
	h := &Hierarchy{account: acc}
	for _, e := range history {
		h.apply(e)
	}
	return h
}

// Changes lists the events recorded since the hierarchy was loaded.
func (h *Hierarchy) Changes() []domain.Event { return h.changes }

// Has says whether the node exists.
func (h *Hierarchy) Has(n ItemID) bool { return h.parent.Has(n) }

// Add creates a node under parent; the first node is the root.
func (h *Hierarchy) Add(by domain.Member, id ItemID, parent ItemID, name string) error {
	if err := by.RequireAdmin("change the hierarchy"); err != nil {
		return err
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	if h.Has(id) {
		return ErrNodeExists
	}
	if parent == "" && h.root != "" {
		return ErrSecondRoot
	}
	if parent != "" && !h.Has(parent) {
		return ErrUnknownNode.Withf("no hierarchy node %s", parent)
	}
	h.record(NodeAdded{Account: h.account, Node: id, Parent: parent, Name: name})
	return nil
}

// Move hangs a node and its subtree under another parent.
func (h *Hierarchy) Move(by domain.Member, id, to ItemID) error {
	if err := by.RequireAdmin("change the hierarchy"); err != nil {
		return err
	}
	if !h.Has(id) {
		return ErrUnknownNode.Withf("no hierarchy node %s", id)
	}
	if !h.Has(to) {
		return ErrUnknownNode.Withf("no hierarchy node %s", to)
	}
	if id == h.root {
		return ErrMoveRoot
	}
	for n := to; n != ""; n, _ = h.parent.Get(n) {
		if n == id {
			return ErrCycle
		}
	}
	from, _ := h.parent.Get(id)
	if from == to {
		return nil
	}
	h.record(NodeMoved{Account: h.account, Node: id, From: from, To: to})
	return nil
}

// Place puts a user, vehicle or driver on a node ("" takes it off).
func (h *Hierarchy) Place(by domain.Member, m MemberID, kind MemberKind, node ItemID) error {
	if err := by.RequireAdmin("place users, vehicles and drivers"); err != nil {
		return err
	}
	if kind != User && kind != Vehicle && kind != Driver {
		return domain.Invalidf("wrong-member-kind", "the hierarchy places users, vehicles and drivers, not %ss", kind)
	}
	if node != "" && !h.Has(node) {
		return ErrUnknownNode.Withf("no hierarchy node %s", node)
	}
	if at, _ := h.placed.Get(m); at == node {
		return ErrAlreadyThere
	}
	h.record(MemberPlaced{Account: h.account, Member: m, Kind: kind, Node: node})
	return nil
}

func (h *Hierarchy) record(e domain.Event) {
	h.apply(e)
	h.changes = append(h.changes, e)
}

// Delete removes an empty node: one with no child nodes and nothing
// placed on it. A node that holds something is refused rather than
// emptied silently: who sees what must not change as a side effect.
func (h *Hierarchy) Delete(by domain.Member, id ItemID) error {
	if err := by.RequireAdmin("change the hierarchy"); err != nil {
		return err
	}
	if !h.Has(id) {
		return ErrUnknownNode.Withf("no hierarchy node %s", id)
	}
	// Refused: the message names a child or what is placed, read from
	// them all.
	if n, _ := h.children.Get(id); n > 0 {
		for n, p := range h.parent.All() {
			if p == id {
				return ErrNodeNotEmpty.Withf("node %s has the child node %s; move or delete it first", id, n)
			}
		}
	}
	if n, _ := h.occupants.Get(id); n > 0 {
		for m, n := range h.placed.All() {
			if n == id {
				return ErrNodeNotEmpty.Withf("%s is placed on node %s; place it elsewhere first", m, id)
			}
		}
	}
	parent, _ := h.parent.Get(id)
	h.record(NodeDeleted{Account: h.account, Node: id, Parent: parent, By: by.User})
	return nil
}

func (h *Hierarchy) apply(e domain.Event) {
	switch e := e.(type) {
	case NodeAdded:
		h.hang(e.Node, e.Parent)
		if e.Parent == "" {
			h.root = e.Node
		}
	case NodeMoved:
		h.hang(e.Node, e.To)
	case NodeDeleted:
		if parent, ok := h.parent.Get(e.Node); ok {
			count(&h.children, parent, -1)
		}
		h.parent.Delete(e.Node)
		if h.root == e.Node {
			h.root = ""
		}
	case MemberPlaced:
		h.place(e.Member, e.Node)
	}
}

// hang sets a node's parent, keeping the counts of child nodes.
func (h *Hierarchy) hang(node, parent ItemID) {
	if old, ok := h.parent.Get(node); ok {
		count(&h.children, old, -1)
	}
	h.parent.Set(node, parent)
	count(&h.children, parent, 1)
}

// place puts a member on a node ("" takes it off), keeping the counts of
// what is placed on each.
func (h *Hierarchy) place(m MemberID, node ItemID) {
	if old, ok := h.placed.Get(m); ok {
		count(&h.occupants, old, -1)
	}
	if node == "" {
		h.placed.Delete(m)
		return
	}
	h.placed.Set(m, node)
	count(&h.occupants, node, 1)
}

// count adds d to a node's count, but not to the root's "" parent.
func count(t *domain.Table[ItemID, int], node ItemID, d int) {
	if node != "" {
		domain.Count(t, node, d)
	}
}
