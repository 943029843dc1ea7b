// Package openfga compares ShareLedger's rights answers with OpenFGA's on
// the same account (rightstest.Peer): the account's events become OpenFGA
// relationship tuples under the model in model.fga, a test checks that the
// two give the same answers, and benchmarks time OpenFGA's Check,
// ListObjects and ListUsers on its memory and PostgreSQL datastores, to be
// read beside readapi's BenchmarkRightsPeer from the same session. It is a
// module of its own, so that ShareLedger does not depend on OpenFGA.
package openfga

import (
	"fmt"

	openfgav1 "github.com/openfga/api/proto/openfga/v1"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// Tuples are the relationship tuples that say what events say, for the
// events rightstest generates (roles and direct rights on fleets and on the
// hierarchy, public and private fleets, private shares, placements and
// fleet memberships of vehicles). Anything else is an error: the
// comparison must not drift from the account silently.
func Tuples(events []domain.Event) ([]*openfgav1.TupleKey, error) {
	var out []*openfgav1.TupleKey
	seen := map[[3]string]bool{} // a tuple is a fact: written once however often told
	add := func(object, relation, user string) {
		if k := [3]string{object, relation, user}; !seen[k] {
			seen[k] = true
			out = append(out, &openfgav1.TupleKey{Object: object, Relation: relation, User: user})
		}
	}
	// levels are the account relations a member level gives on a kind.
	levels := func(k rights.Kind, l rights.Level) ([]string, error) {
		var prefix string
		switch k {
		case rights.Fleet:
			prefix = "fleet_member_"
		case rights.Node:
			prefix = "node_member_"
		default:
			return nil, nil // no vehicles reached through other kinds
		}
		switch l {
		case rights.None:
			return nil, nil
		case rights.View:
			return []string{prefix + "viewer"}, nil
		case rights.Edit:
			return []string{prefix + "editor"}, nil
		}
		return nil, fmt.Errorf("member level %q has no relation in the model", l)
	}
	for _, e := range events {
		switch e := e.(type) {
		case rights.RoleDefined:
			for k, r := range e.Rights {
				rels, err := levels(k, r.Member)
				if err != nil {
					return nil, err
				}
				for _, rel := range rels {
					add("account:"+string(e.Account), rel, "role:"+e.Role+"#assignee")
				}
			}
		case rights.RoleAssigned:
			add("role:"+e.Role, "assignee", "user:"+string(e.User))
		case rights.DirectRightsSet:
			rels, err := levels(e.Kind, e.Rights.Member)
			if err != nil {
				return nil, err
			}
			for _, rel := range rels {
				add("account:"+string(e.Account), rel, "user:"+string(e.User))
			}
		case rights.NodeAdded:
			add("node:"+string(e.Node), "account", "account:"+string(e.Account))
			if e.Parent != "" {
				add("node:"+string(e.Node), "parent", "node:"+string(e.Parent))
			}
		case rights.CollectionCreated:
			if e.Kind == rights.Fleet && e.Public {
				add("fleet:"+string(e.Item), "public", "account:"+string(e.Account))
			}
		case rights.SharedPrivately:
			switch e.Rights.Member {
			case rights.None:
			case rights.View:
				add("fleet:"+string(e.Item), "shared_member_viewer", "user:"+string(e.User))
			case rights.Edit:
				add("fleet:"+string(e.Item), "shared_member_editor", "user:"+string(e.User))
			default:
				return nil, fmt.Errorf("member level %q has no relation in the model", e.Rights.Member)
			}
		case rights.MemberAdded:
			if e.Kind != rights.Vehicle {
				return nil, fmt.Errorf("a %s in a collection has no relation in the model", e.Kind)
			}
			add("vehicle:"+string(e.Member), "fleet", "fleet:"+string(e.Item))
		case rights.MemberPlaced:
			switch e.Kind {
			case rights.User:
				add("node:"+string(e.Node), "placed", "user:"+string(e.Member))
			case rights.Vehicle:
				add("vehicle:"+string(e.Member), "node", "node:"+string(e.Node))
			default:
				return nil, fmt.Errorf("a placed %s has no relation in the model", e.Kind)
			}
		default:
			if !outside[e.EventType()] {
				return nil, fmt.Errorf("event %s has no tuples in the comparison", e.EventType())
			}
		}
	}
	return out, nil
}

// outside are the events that give no rights on vehicles.
var outside = map[string]bool{"AccountOpened": true, "UserAdded": true}
