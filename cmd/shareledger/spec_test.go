package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shareledger/shareledger/readapi"
)

// TestEveryOperationAsDescribed drives every operation of the OpenAPI
// description with requests built from it: a valid one, and invalid ones
// (an unknown body field, a body that is not JSON, a malformed path
// parameter, no token). client.do checks each answer against the
// description (a documented status, content type and schema); this test
// adds that nothing answers 5xx, that each invalid request is refused with
// a 4xx, and that a refusal appends nothing.
func TestEveryOperationAsDescribed(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.partnered()
	op := s.operator()
	fx := specFixtures(s, alice, bob)

	doc, err := openapi3.NewLoader().LoadFromData(readapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	type operation struct {
		method, path string
		op           *openapi3.Operation
	}
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			ops = append(ops, operation{method, path, o})
		}
	}
	// Deletions last, deepest first, so the things they delete serve the
	// others first.
	sort.Slice(ops, func(i, j int) bool {
		di, dj := ops[i].method == http.MethodDelete, ops[j].method == http.MethodDelete
		if di != dj {
			return dj
		}
		if di && len(ops[i].path) != len(ops[j].path) {
			return len(ops[i].path) > len(ops[j].path)
		}
		return ops[i].method+ops[i].path < ops[j].method+ops[j].path
	})
	head := func() string {
		var st readapi.Page[readapi.ProjectionStatus]
		r := alice.do(http.MethodGet, "/v1/projections", nil)
		r.decode(t, &st)
		return st.Items[0].Head.String()
	}
	tried, refused := 0, 0
	outcomes := map[int]int{} // status of each operation's valid request
	for _, o := range ops {
		caller := alice
		secured := o.op.Security == nil || len(*o.op.Security) > 0
		if o.op.Security != nil && len(*o.op.Security) > 0 {
			if _, ok := (*o.op.Security)[0]["operator"]; ok {
				caller = op
			}
		}
		name := o.method + " " + o.path
		t.Run(name, func(t *testing.T) {
			path := fx.path(o.path)
			query := fx.query(o.op)
			body, ctype := fx.body(o.op)
			send := func(c client, path, query string, body any, ctype string) response {
				t.Helper()
				tried++
				target := path
				if query != "" {
					target += "?" + query
				}
				var r response
				if ctype != "" && ctype != "application/json" {
					r = c.do(o.method, target, body, "Content-Type", ctype)
				} else {
					r = c.do(o.method, target, body)
				}
				if r.status >= 500 {
					t.Fatalf("%s %s: %d %s", o.method, target, r.status, r.body)
				}
				return r
			}
			refuse := func(why string, c client, path, query string, body any, ctype string) {
				t.Helper()
				before := head()
				r := send(c, path, query, body, ctype)
				if r.status < 400 {
					t.Errorf("%s: %d %s, want a 4xx", why, r.status, r.body)
				}
				if after := head(); after != before {
					t.Errorf("%s: refused with %d yet the log moved from %s to %s", why, r.status, before, after)
				}
				refused++
			}
			if ctype == "application/json" {
				refuse("an unknown body field", caller, path, query, withUnknownField(body), ctype)
				refuse("a body that is not JSON", caller, path, query, "{", ctype)
			}
			for _, p := range pathParams(o.path) {
				bad := strings.Replace(path, "/"+url.PathEscape(fx.param(o.path, p))+"/", "/"+url.PathEscape("no such "+p+"!")+"/", 1)
				if bad == path {
					bad = strings.TrimSuffix(path, url.PathEscape(fx.param(o.path, p))) + url.PathEscape("no such "+p+"!")
				}
				refuse("a malformed "+p, caller, bad, query, body, ctype)
			}
			if secured {
				refuse("no token", client{s: s}, path, query, body, ctype)
			}
			r := send(caller, path, query, body, ctype)
			outcomes[r.status]++
			if testing.Verbose() && r.status >= 300 {
				t.Logf("the valid request answered %d %.200s", r.status, r.body)
			}
		})
	}
	t.Logf("%d operations, %d requests, %d refusals checked; the valid requests answered %v", len(ops), tried, refused, outcomes)
}

// fixtures names things that exist, for path parameters and bodies.
type fixtures struct {
	device, project, cloudProject, job, item, node, role, user string
	n                                                          int
}

func specFixtures(s *server, alice, bob client) *fixtures {
	fx := &fixtures{user: "ann@acme.test"}
	fx.device = bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
	bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{fx.device}})
	fx.project = alice.command("POST", "/v1/projects", map[string]any{"name": "Bridge"}).ID
	alice.command("POST", "/v1/devices/"+fx.device+"/projects", map[string]any{"project": fx.project})
	alice.command("POST", "/v1/users", map[string]any{"email": fx.user, "name": "Ann", "role": "user"})
	fx.item = alice.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North"}).ID
	fx.node = alice.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "hq", "name": "HQ"}).ID
	fx.role = "dispatcher"
	alice.command("POST", "/v1/roles", map[string]any{"name": fx.role, "rights": map[string]any{"fleet": map[string]string{"item": "view", "member": "view"}}})
	alice.command("POST", "/v1/subusers/"+fx.user+"/roles", map[string]any{"role": fx.role})
	alice.command("POST", "/v1/identities", map[string]any{"name": "Alice"})
	s.as(fx.user, "acme").command("POST", "/v1/identities", map[string]any{"name": "Ann"})
	fx.cloudProject = alice.command("POST", "/v1/cloud-projects", map[string]any{"name": "Tower"}).ID
	alice.command("POST", "/v1/cloud-projects/"+fx.cloudProject+"/invitations", map[string]any{"email": fx.user, "role": "User"})
	fx.job = alice.command("POST", "/v1/cloud-projects/"+fx.cloudProject+"/jobs", map[string]any{"name": "Survey"}).ID
	alice.command("POST", "/v1/cloud-projects/"+fx.cloudProject+"/stylesheets", map[string]any{"name": "s1"})
	return fx
}

func pathParams(path string) []string {
	var out []string
	for _, part := range strings.Split(path, "/") {
		if strings.HasPrefix(part, "{") {
			out = append(out, strings.Trim(part, "{}"))
		}
	}
	return out
}

// param is the value of a path parameter on a route.
func (fx *fixtures) param(route, name string) string {
	switch name {
	case "device":
		return fx.device
	case "project":
		if strings.HasPrefix(route, "/v1/cloud-projects") {
			return fx.cloudProject
		}
		return fx.project
	case "organization":
		return "RentCo"
	case "job":
		return fx.job
	case "item":
		return fx.item
	case "node":
		return fx.node
	case "role":
		return fx.role
	case "user", "member", "email":
		return fx.user
	case "kind":
		if strings.HasPrefix(route, "/v1/audit") {
			return "device"
		}
		return "fleet"
	case "id":
		return fx.device
	case "name":
		return "s1"
	}
	return "x"
}

func (fx *fixtures) path(route string) string {
	out := route
	for _, p := range pathParams(route) {
		out = strings.Replace(out, "{"+p+"}", url.PathEscape(fx.param(route, p)), 1)
	}
	return out
}

// query fills the required query parameters.
func (fx *fixtures) query(op *openapi3.Operation) string {
	q := url.Values{}
	for _, p := range op.Parameters {
		if p.Value == nil || p.Value.In != "query" || !p.Value.Required {
			continue
		}
		q.Set(p.Value.Name, fmt.Sprint(fx.value(p.Value.Name, p.Value.Schema)))
	}
	return q.Encode()
}

// body is a valid request body and its content type, or nil.
func (fx *fixtures) body(op *openapi3.Operation) (any, string) {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil, ""
	}
	content := op.RequestBody.Value.Content
	if mt := content.Get("application/json"); mt != nil {
		return fx.value("", mt.Schema), "application/json"
	}
	if content.Get("text/csv") != nil {
		fx.n++
		return fmt.Sprintf("email,group,role\ncsv%d@x.test,,User\n", fx.n), "text/csv"
	}
	return nil, ""
}

// value is a valid value of a schema, preferring things that exist for
// the fields that name them.
func (fx *fixtures) value(field string, ref *openapi3.SchemaRef) any {
	if ref == nil || ref.Value == nil {
		return nil
	}
	s := ref.Value
	if len(s.AnyOf) > 0 {
		return fx.value(field, s.AnyOf[0])
	}
	if len(s.OneOf) > 0 {
		return fx.value(field, s.OneOf[0])
	}
	if s.Const != nil {
		return s.Const
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("object"):
		out := map[string]any{}
		for _, name := range s.Required {
			out[name] = fx.value(name, s.Properties[name])
		}
		if field == "rights" {
			out["fleet"] = map[string]string{"item": "view", "member": "view"}
		}
		return out
	case s.Type.Is("array"):
		if field == "projections" {
			return []string{"devices"}
		}
		return []any{fx.value(strings.TrimSuffix(field, "s"), s.Items)}
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	}
	switch field {
	case "email", "user", "to", "emails", "notify":
		return fx.user
	case "device":
		return fx.device
	case "project":
		return fx.project
	case "organization":
		return "RentCo"
	case "item":
		return fx.item
	case "node", "parent":
		return fx.node
	case "role":
		return fx.role
	case "member":
		return "vehicle-1"
	case "id":
		fx.n++
		return fmt.Sprintf("new-%d", fx.n)
	case "position":
		return "1"
	case "level":
		return "view"
	}
	fx.n++
	return fmt.Sprintf("Thing %d", fx.n)
}

func withUnknownField(body any) any {
	m, ok := body.(map[string]any)
	if !ok {
		return map[string]any{"unknownField": 1}
	}
	out := map[string]any{"unknownField": 1}
	for k, v := range m {
		out[k] = v
	}
	return out
}
