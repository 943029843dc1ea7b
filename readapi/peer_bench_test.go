package readapi

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/rights/rightstest"
)

// BenchmarkRightsPeer asks ShareLedger the questions that
// docs/peers/openfga asks OpenFGA, on the same account (rightstest.Peer):
// a check of a random user on a random vehicle, every vehicle a user can
// see (ListObjects: every page of 500) and every user who can see a
// vehicle (ListUsers: every page of 500). Each reports how many answers it
// found, which the comparison checks against OpenFGA's.
//
//	go test -run '^$' -bench RightsPeer -benchtime 200x ./readapi/
func BenchmarkRightsPeer(b *testing.B) {
	benchAccount(b)
	ctx := context.Background()
	spec := rightstest.Peer()
	a := &API{}
	rnd := rand.New(rand.NewPCG(5, 6))
	subuser := directory.User{User: spec.User(0), Account: spec.Account, Role: "user"}
	admin := directory.User{User: spec.Administrator(), Account: spec.Account, Role: "administrator"}
	cases := []struct {
		name string
		run  func(tx projections.Reader) (int, error)
	}{
		{"check a vehicle", func(tx projections.Reader) (int, error) {
			v := rightsmodel.Query{R: tx}.Account(ctx, spec.Account)
			g, err := rights.OnMember(v, spec.User(rnd.IntN(spec.Users)), spec.Vehicle(rnd.IntN(spec.Vehicles)))
			if err == nil {
				err = v.Err()
			}
			if g.Rights.Member != rights.None {
				return 1, err
			}
			return 0, err
		}},
		{"vehicles u0 can see, every page", func(tx projections.Reader) (int, error) {
			return everyPage(func(cursor string) (int, string, error) {
				out, err := a.visibleMembers(ctx, benchRequest("/v1/rights/members?kind=vehicle&limit=500", "", cursor), tx, subuser)
				if err != nil {
					return 0, "", err
				}
				p := out.(Page[VisibleMember])
				return len(p.Items), p.Next, nil
			})
		}},
		{"users who can see v000042, every page", func(tx projections.Reader) (int, error) {
			return everyPage(func(cursor string) (int, string, error) {
				out, err := a.memberGrid(ctx, benchRequest("/v1/rights/members/v000042/grid?limit=500", "v000042", cursor), tx, admin)
				if err != nil {
					return 0, "", err
				}
				p := out.(Page[GridRow])
				n := 0
				for _, row := range p.Items {
					if row.Rights.Member != rights.None && row.User != admin.User {
						n++
					}
				}
				return n, p.Next, nil
			})
		}},
	}
	for _, st := range benchStores {
		for _, c := range cases {
			b.Run(st.name+"/"+c.name, func(b *testing.B) {
				found := 0
				for b.Loop() {
					err := st.store.View(ctx, func(tx projections.Reader) error {
						n, err := c.run(tx)
						found += n
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(found)/float64(b.N), "answers/op")
			})
		}
	}
}

// everyPage calls page with each cursor it hands back until the last page,
// and counts what the pages found.
func everyPage(page func(cursor string) (int, string, error)) (int, error) {
	total, cursor := 0, ""
	for {
		n, next, err := page(cursor)
		if err != nil {
			return 0, err
		}
		total += n
		if next == "" {
			return total, nil
		}
		cursor = next
	}
}

// benchRequest is a GET of path with the route's member parameter set, as
// chi would set it, and the cursor, if any, added.
func benchRequest(path, member, cursor string) *http.Request {
	if cursor != "" {
		path += "&cursor=" + url.QueryEscape(cursor)
	}
	req := httptest.NewRequest("GET", path, nil)
	route := chi.NewRouteContext()
	if member != "" {
		route.URLParams.Add("member", member)
	}
	return req.WithContext(context.WithValue(req.Context(), chi.RouteCtxKey, route))
}
