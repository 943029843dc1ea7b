package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/readapi"
)

// bodyRoute is a command route that takes a body.
type bodyRoute struct {
	method, path, ctype string
	valid               []byte
}

// FuzzCommandBodies sends arbitrary bodies to every command route that
// takes one, as an administrator of an account with things to change:
// nothing answers 5xx, every answer is as the description documents it,
// and a refusal appends nothing. CI fuzzes it for a bounded time; the
// seeds (each route's valid body, and a few broken ones) run with the
// tests.
func FuzzCommandBodies(f *testing.F) {
	s := start(f, testConfig(f, backends[0]))
	alice, bob := s.partnered()
	fx := specFixtures(s, alice, bob)
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
	if err != nil {
		f.Fatal(err)
	}
	var routes []bodyRoute
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			body, ctype := fx.body(op)
			if body == nil || path == "/v1/admin/rebuilds" {
				continue
			}
			r := bodyRoute{method: method, path: fx.path(path), ctype: ctype}
			if b, ok := body.(string); ok {
				r.valid = []byte(b)
			} else {
				if r.valid, err = json.Marshal(body); err != nil {
					f.Fatal(err)
				}
			}
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].method+routes[i].path < routes[j].method+routes[j].path })
	for i, r := range routes {
		f.Add(uint8(i), r.valid)
		f.Add(uint8(i), []byte(`{"name":"\u0000\u202e","devices":[""],"emails":null}`))
		f.Add(uint8(i), []byte(`[]`))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		// The client reports to this input's t, not to f.
		st := *s
		st.t = t
		alice := client{s: &st, token: alice.token}
		head := func() string {
			var page readapi.Page[readapi.ProjectionStatus]
			alice.do(http.MethodGet, "/v1/projections", nil).decode(t, &page)
			return page.Items[0].Head.String()
		}
		r := routes[int(route)%len(routes)]
		before := head()
		res := alice.do(r.method, r.path, string(body), "Content-Type", r.ctype)
		if res.status >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, res.status, res.body)
		}
		if res.status >= 400 {
			if after := head(); after != before {
				t.Fatalf("%s %s %q: refused with %d, yet the log moved from %s to %s", r.method, r.path, body, res.status, before, after)
			}
		}
	})
}
