package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// TestCheckAndListAgree builds random accounts (roles, direct rights,
// public and private collections with vehicles, drivers and markers, a
// hierarchy with placements, private shares) and asks, for every subuser,
// both questions the API answers: the list of the members they can see,
// and a check on every member the account holds, on ids it does not hold,
// and on another account's vehicle. A member is allowed by the check
// exactly when it is in the list, at the same level; a batch of the same
// checks answers alike; and who can see a member (its grid at level view)
// is exactly the users the checks allowed.
//
// It runs on the embedded read models and on PostgreSQL, where the lists
// read their rows' rights ahead in batches (projections.Batched).
func TestCheckAndListAgree(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) { checkAndListAgree(t, b) })
	}
}

func checkAndListAgree(t *testing.T, b backend) {
	s := start(t, testConfig(t, b))
	other := s.as("olga@other.test", "other")
	other.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Olga"})
	fleet := other.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "Theirs", "public": true}).ID
	other.command("POST", "/v1/collections/"+fleet+"/members", map[string]any{"member": "their-truck", "kind": "vehicle"})

	levels := []string{"none", "view", "edit", "full"}
	for seed := range uint64(6) {
		{
			rnd := rand.New(rand.NewPCG(seed, 7))
			acc := fmt.Sprintf("acc%d", seed)
			domainOf := acc + ".test"
			admin := s.as("admin@"+domainOf, acc)
			admin.command("POST", "/v1/accounts", map[string]any{"organization": acc, "name": "Admin"})
			users := []string{"u0@" + domainOf, "u1@" + domainOf, "u2@" + domainOf, "u3@" + domainOf}
			for _, u := range users {
				admin.command("POST", "/v1/users", map[string]any{"email": u, "name": u, "role": "user"})
			}
			pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
			rightsOf := func() map[string]string { return map[string]string{"item": pick(levels), "member": pick(levels)} }
			some := func() map[string]string { return map[string]string{"item": pick(levels[1:]), "member": pick(levels)} }
			admin.command("POST", "/v1/roles", map[string]any{"name": "r", "rights": map[string]any{"fleet": rightsOf(), "team": rightsOf(), "category": rightsOf()}})
			for _, u := range users {
				if rnd.IntN(2) == 0 {
					admin.command("POST", "/v1/subusers/"+u+"/roles", map[string]any{"role": "r"})
				}
				if rnd.IntN(3) == 0 {
					admin.command("PUT", "/v1/subusers/"+u+"/rights/"+pick([]string{"fleet", "team", "category", "node"}), some())
				}
			}
			var collections []string
			type member struct{ id, kind string }
			var held []member
			for i := range 10 {
				held = append(held, member{fmt.Sprintf("%s-m%d", acc, i), pick([]string{"vehicle", "driver", "marker"})})
			}
			for i := range 4 {
				kind := pick([]string{"fleet", "team", "category"})
				id := admin.command("POST", "/v1/collections", map[string]any{"kind": kind, "name": fmt.Sprint("c", i), "public": rnd.IntN(2) == 0}).ID
				collections = append(collections, id)
				for _, m := range held {
					if (kind == "category") == (m.kind == "marker") && rnd.IntN(3) == 0 {
						admin.command("POST", "/v1/collections/"+id+"/members", map[string]any{"member": m.id, "kind": m.kind})
					}
				}
				if rnd.IntN(2) == 0 {
					admin.command("PUT", "/v1/collections/"+id+"/shares/"+pick(users), some())
				}
			}
			for _, n := range []map[string]any{{"id": acc + "-hq", "name": "HQ"}, {"id": acc + "-east", "parent": acc + "-hq", "name": "East"}, {"id": acc + "-west", "parent": acc + "-hq", "name": "West"},
				{"id": acc + "-depot", "parent": acc + "-east", "name": "Depot"}, {"id": acc + "-bay", "parent": acc + "-depot", "name": "Bay"}} {
				admin.command("POST", "/v1/hierarchy/nodes", n)
			}
			nodes := []string{acc + "-hq", acc + "-east", acc + "-west", acc + "-depot", acc + "-bay"}
			for _, m := range held {
				if m.kind != "marker" && rnd.IntN(2) == 0 {
					admin.command("PUT", "/v1/hierarchy/placements/"+m.id, map[string]any{"node": pick(nodes), "kind": m.kind})
				}
			}
			// A subuser with no role, no direct rights and no place in the
			// hierarchy sees only what is shared with them: a collection
			// and a single member (the lists' narrow path).
			narrow := "u9@" + domainOf
			admin.command("POST", "/v1/users", map[string]any{"email": narrow, "name": "Narrow", "role": "user"})
			admin.command("PUT", "/v1/members/"+held[1].id+"/shares/"+narrow, map[string]any{"kind": held[1].kind, "member": "edit"})
			// And two collections, whose members it sees merged with
			// that one, each once.
			for _, c := range collections[:2] {
				admin.command("PUT", "/v1/collections/"+c+"/shares/"+narrow, map[string]any{"item": "view", "member": "view"})
			}
			// Single members shared on their own, some taken back.
			for _, m := range held[:5] {
				if m.kind == "marker" || rnd.IntN(2) == 0 {
					u := pick(users)
					admin.command("PUT", "/v1/members/"+m.id+"/shares/"+u, map[string]any{"kind": m.kind, "member": pick(levels[1:])})
					if rnd.IntN(4) == 0 {
						admin.command("DELETE", "/v1/members/"+m.id+"/shares/"+u, nil)
					}
				}
			}
			for _, u := range users {
				if rnd.IntN(2) == 0 {
					admin.command("PUT", "/v1/hierarchy/placements/"+u, map[string]any{"node": pick(nodes), "kind": "user"})
				}
			}
			// A subtree moves, with what is placed in it, to the other
			// branch (or stays, for some accounts).
			// One vehicle deep in it, and u0 (who gets hierarchy rights
			// last) on the branch it moves to: it sees the vehicle only
			// if the tree above the vehicle is read as it is now.
			held = append(held, member{acc + "-deep", "vehicle"})
			admin.command("PUT", "/v1/hierarchy/placements/"+acc+"-deep", map[string]any{"node": acc + "-bay", "kind": "vehicle"})
			admin.command("PUT", "/v1/hierarchy/placements/"+users[0], map[string]any{"node": acc + "-west", "kind": "user"})
			if rnd.IntN(3) != 0 {
				admin.command("POST", "/v1/hierarchy/nodes/"+acc+"-depot/move", map[string]any{"parent": acc + "-west"})
			}
			// The last command: every read below waits for its position.
			last := admin.command("PUT", "/v1/subusers/"+users[0]+"/rights/node", map[string]any{"item": "view", "member": "edit"}).Position

			asked := []string{acc + "-ghost", "their-truck"}
			for _, m := range held {
				asked = append(asked, m.id)
			}
			everyone := append(users, "admin@"+domainOf, narrow)
			allowed := map[string]map[string]bool{}   // member -> users allowed by the check
			levelOf := map[string]map[string]string{} // member or item -> user -> the check's level
			for _, u := range everyone {
				var list struct {
					Items []readapi.VisibleMember `json:"items"`
				}
				admin.read("/v1/rights/members?limit=500&user="+url.QueryEscape(u), last, &list)
				listed := map[string]string{}
				for _, m := range list.Items {
					listed[string(m.ID)] = m.Member.String()
				}
				// Paged two at a time, the list is the same, in the same
				// order, each member once.
				var whole, paged []string
				for _, m := range list.Items {
					whole = append(whole, string(m.ID)+"="+m.Member.String())
				}
				for cursor, pages := "", 0; pages <= len(list.Items); pages++ {
					var p struct {
						Items []readapi.VisibleMember `json:"items"`
						Next  string                  `json:"next"`
					}
					admin.read("/v1/rights/members?limit=2&cursor="+url.QueryEscape(cursor)+"&user="+url.QueryEscape(u), last, &p)
					for _, m := range p.Items {
						paged = append(paged, string(m.ID)+"="+m.Member.String())
					}
					if cursor = p.Next; cursor == "" {
						break
					}
				}
				if strings.Join(paged, ",") != strings.Join(whole, ",") {
					t.Errorf("account %d: %s's members two at a time: %v, while the whole list is %v", seed, u, paged, whole)
				}
				// A list of one kind is the whole list's members of that kind.
				for _, kind := range []string{"vehicle", "driver", "marker"} {
					var one struct {
						Items []readapi.VisibleMember `json:"items"`
					}
					admin.read("/v1/rights/members?limit=500&kind="+kind+"&user="+url.QueryEscape(u), last, &one)
					var want, got []string
					for _, m := range list.Items {
						if string(m.Kind) == kind {
							want = append(want, string(m.ID)+"="+m.Member.String())
						}
					}
					for _, m := range one.Items {
						got = append(got, string(m.ID)+"="+m.Member.String())
					}
					if strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("account %d: %s's %ss: %v, while the whole list holds %v", seed, u, kind, got, want)
					}
				}
				for _, id := range asked {
					var c readapi.Check
					admin.read("/v1/rights/check?member="+url.QueryEscape(id)+"&user="+url.QueryEscape(u), last, &c)
					if c.Allowed {
						if allowed[id] == nil {
							allowed[id] = map[string]bool{}
						}
						allowed[id][u] = true
					}
					if levelOf[id] == nil {
						levelOf[id] = map[string]string{}
					}
					levelOf[id][u] = c.Rights.Member.String()
					level, inList := listed[id]
					if c.Allowed != inList || (inList && c.Rights.Member.String() != level) {
						t.Errorf("account %d: %s on %s: check says allowed %v at %s (sources %+v), the list says %v at %q",
							seed, u, id, c.Allowed, c.Rights.Member, c.Sources, inList, level)
					}
				}
				for id := range listed {
					if id == "their-truck" || id == acc+"-ghost" {
						t.Errorf("%s's list holds %s, which the account does not hold", u, id)
					}
				}
				// One batch of the same questions answers as the checks did.
				var batch []map[string]string
				for _, id := range asked {
					batch = append(batch, map[string]string{"user": u, "member": id})
				}
				var answers struct {
					Results []readapi.Check `json:"results"`
				}
				admin.post("/v1/rights/checks", last, map[string]any{"checks": batch}, &answers)
				for i, id := range asked {
					if i >= len(answers.Results) || answers.Results[i].Object != id || answers.Results[i].Allowed != allowed[id][u] {
						t.Errorf("account %d: the batch check of %s on %s disagrees with the single check (%+v)", seed, u, id, answers.Results)
						break
					}
				}
			}
			// Who can see each member: exactly the users the checks allowed.
			for _, m := range held {
				if !allowed[m.id]["admin@"+domainOf] {
					// Never added nor placed: the account does not hold it.
					if r := admin.do("GET", "/v1/rights/members/"+url.PathEscape(m.id)+"/grid", nil); r.status != 404 {
						t.Errorf("account %d: who can see %s, which the account does not hold: %d %s", seed, m.id, r.status, r.body)
					}
					continue
				}
				var grid struct {
					Items []readapi.GridRow `json:"items"`
				}
				admin.read("/v1/rights/members/"+url.PathEscape(m.id)+"/grid?level=view&limit=500", last, &grid)
				got := map[string]bool{}
				for _, row := range grid.Items {
					got[string(row.User)] = true
				}
				if fmt.Sprint(got) != fmt.Sprint(allowed[m.id]) {
					t.Errorf("account %d: who can see %s: %v; the checks allowed %v", seed, m.id, got, allowed[m.id])
				}
				gridsAgree(t, admin, last, fmt.Sprintf("account %d: member %s", seed, m.id), "/v1/rights/members/"+url.PathEscape(m.id)+"/grid", levelOf[m.id])
			}
			// Who can see, edit or fully manage each collection and node:
			// exactly the users whose checks give them that much.
			for _, id := range append(collections, nodes...) {
				levels := map[string]string{}
				for _, u := range everyone {
					var c readapi.Check
					admin.read("/v1/rights/check?item="+url.QueryEscape(id)+"&user="+url.QueryEscape(u), last, &c)
					levels[u] = c.Rights.Item.String()
				}
				gridsAgree(t, admin, last, fmt.Sprintf("account %d: item %s", seed, id), "/v1/rights/items/"+url.PathEscape(id)+"/grid", levels)
			}
		}
	}
}

// gridsAgree asks who holds each level on an object (its grid at
// level=view, edit and full, read whole and a row a page) and compares the
// answer with the users whose checks gave them that level or more.
func gridsAgree(t *testing.T, admin client, at, what, grid string, checked map[string]string) {
	t.Helper()
	rank := map[string]int{"none": 0, "view": 1, "edit": 2, "full": 3}
	for _, level := range []string{"view", "edit", "full"} {
		var want []string
		for u, l := range checked {
			if rank[l] >= rank[level] {
				want = append(want, u)
			}
		}
		slices.Sort(want)
		var whole struct {
			Items []readapi.GridRow `json:"items"`
		}
		admin.read(grid+"?level="+level+"&limit=500", at, &whole)
		var got []string
		for _, row := range whole.Items {
			got = append(got, string(row.User))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: who holds %s: %v; the checks say %v", what, level, got, want)
		}
		var paged []string
		next := ""
		for range 20 {
			var page struct {
				Items []readapi.GridRow `json:"items"`
				Next  string            `json:"next"`
			}
			admin.read(grid+"?level="+level+"&limit=1&cursor="+url.QueryEscape(next), at, &page)
			for _, row := range page.Items {
				paged = append(paged, string(row.User))
			}
			if next = page.Next; next == "" {
				break
			}
		}
		if strings.Join(paged, ",") != strings.Join(want, ",") {
			t.Errorf("%s: who holds %s, a row a page: %v; the checks say %v", what, level, paged, want)
		}
	}
}
