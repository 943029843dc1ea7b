package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/projections/devices"
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

	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
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
	var table []routeTally
	for _, o := range ops {
		caller := alice
		secured := o.op.Security == nil || len(*o.op.Security) > 0
		if o.op.Security != nil && len(*o.op.Security) > 0 {
			if _, ok := (*o.op.Security)[0]["operator"]; ok {
				caller = op
			}
		}
		name := o.method + " " + o.path
		tally := routeTally{route: name}
		t.Run(name, func(t *testing.T) {
			path := fx.path(o.path)
			query := fx.query(o.op)
			body, ctype := fx.body(o.op)
			send := func(c client, path, query string, body any, ctype string) (response, error) {
				t.Helper()
				tried++
				target := path
				if query != "" {
					target += "?" + query
				}
				headers := []string{}
				if ctype != "" && ctype != "application/json" {
					headers = []string{"Content-Type", ctype}
				}
				r, contractErr := c.send(o.method, target, body, headers...)
				if r.status >= 500 {
					t.Fatalf("%s %s: %d %s", o.method, target, r.status, r.body)
				}
				return r, contractErr
			}
			for _, bad := range badRequests(o.path, o.op, fx, path, query, body, ctype) {
				c := caller
				if bad.anonymous {
					if !secured {
						continue
					}
					c = client{s: s}
				}
				before := head()
				r, contractErr := send(c, bad.path, bad.query, bad.body, bad.ctype)
				after := head()
				tally.tried++
				switch {
				case r.status < 400:
					t.Errorf("%s: %d %.300s, want a 4xx", bad.why, r.status, r.body)
				case after != before:
					t.Errorf("%s: refused with %d yet the log moved from %s to %s", bad.why, r.status, before, after)
				case contractErr != nil:
					t.Errorf("%s: contract: %v", bad.why, contractErr)
				default:
					tally.clean++
					refused++
					continue
				}
				tally.wrong++
			}
			r, _ := send(caller, path, query, body, ctype)
			outcomes[r.status]++
			if testing.Verbose() && r.status >= 300 {
				t.Logf("the valid request answered %d %.200s", r.status, r.body)
			}
		})
		table = append(table, tally)
	}
	t.Logf("%d operations, %d requests, %d refusals checked; the valid requests answered %v", len(ops), tried, refused, outcomes)
	writeReport(t, "bad-inputs", badInputReport(table))
}

// routeTally counts the bad requests sent to one route: how many, how
// many were refused cleanly (a documented 4xx, nothing appended), and how
// many were not.
type routeTally struct {
	route               string
	tried, clean, wrong int
}

func badInputReport(table []routeTally) string {
	var b strings.Builder
	total := routeTally{route: "all routes"}
	b.WriteString("| route | bad inputs tried | refused cleanly | wrong |\n| --- | --- | --- | --- |\n")
	for _, r := range table {
		fmt.Fprintf(&b, "| `%s` | %d | %d | %d |\n", r.route, r.tried, r.clean, r.wrong)
		total.tried, total.clean, total.wrong = total.tried+r.tried, total.clean+r.clean, total.wrong+r.wrong
	}
	fmt.Fprintf(&b, "| **%s** | **%d** | **%d** | **%d** |\n", total.route, total.tried, total.clean, total.wrong)
	return b.String()
}

// writeReport writes a figure of docs/reliability.md to the folder named
// by SHARELEDGER_RELIABILITY_OUT, when it is set.
func writeReport(t *testing.T, name, text string) {
	t.Helper()
	dir := os.Getenv("SHARELEDGER_RELIABILITY_OUT")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// badRequest is one way to get a request wrong.
type badRequest struct {
	why         string
	path, query string
	body        any
	ctype       string
	anonymous   bool
}

// badRequests are the wrong variants of an operation's valid request:
// the body (unknown field, not JSON, each field missing, of the wrong
// type, too long, with NUL or a bidirectional override, too many list
// items), each path parameter malformed, query parameters out of range,
// and no token.
func badRequests(route string, op *openapi3.Operation, fx *fixtures, path, query string, body any, ctype string) []badRequest {
	var out []badRequest
	add := func(why string, p, q string, b any) {
		out = append(out, badRequest{why: why, path: p, query: q, body: b, ctype: ctype})
	}
	if ctype == "application/json" {
		add("an unknown body field", path, query, withUnknownField(body))
		add("a body that is not JSON", path, query, "{")
		add("two JSON values", path, query, "{} {}")
		add("a JSON array for an object", path, query, "[]")
		schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		valid, _ := body.(map[string]any)
		for _, field := range schema.Required {
			add("no "+field, path, query, without(valid, field))
			// Field names are case-sensitive, as described.
			add(field+" spelled in another case", path, query, with(without(valid, field), strings.ToUpper(field[:1])+field[1:], valid[field]))
		}
		for field, ref := range schema.Properties {
			f := ref.Value
			switch {
			case f.Type.Is("string") || len(f.AnyOf) > 0 || len(f.Enum) > 0:
				long := 100_000
				if f.MaxLength != nil {
					long = int(*f.MaxLength) + 1
				}
				add(field+" too long", path, query, with(valid, field, strings.Repeat("x", long)))
				add(field+" with NUL", path, query, with(valid, field, "a\u0000b"))
				add(field+" with a right-to-left override", path, query, with(valid, field, "a\u202eb"))
				add(field+" a number", path, query, with(valid, field, 12345))
			case f.Type.Is("array"):
				many := make([]string, 1001)
				for i := range many {
					many[i] = fmt.Sprintf("x%d@x.test", i)
				}
				add(field+" with 1,001 items", path, query, with(valid, field, many))
				add(field+" a string", path, query, with(valid, field, "x"))
			case f.Type.Is("boolean"):
				add(field+" a string", path, query, with(valid, field, "yes"))
			case f.Type.Is("object"):
				add(field+" a string", path, query, with(valid, field, "x"))
			}
		}
	}
	if ctype == "text/csv" {
		add("a CSV row that is not an e-mail address", path, query, "email,group,role\nnot-an-email,,User\n")
		add("an empty file", path, query, "")
	}
	for _, p := range pathParams(route) {
		v := url.PathEscape(fx.param(route, p))
		for _, bad := range []string{"no such " + p + "!", strings.Repeat("y", 300), "a\x00b"} {
			bp := strings.Replace(path, "/"+v+"/", "/"+url.PathEscape(bad)+"/", 1)
			if bp == path {
				bp = strings.TrimSuffix(path, v) + url.PathEscape(bad)
			}
			add(fmt.Sprintf("path parameter %s %.20q", p, bad), bp, query, body)
		}
	}
	for _, ref := range op.Parameters {
		p := ref.Value
		if p == nil || p.In != "query" {
			continue
		}
		q, _ := url.ParseQuery(query)
		var bad []string
		switch p.Name {
		case "limit":
			bad = []string{"0", "-1", "100000", "ten"}
		case "position", "atPosition":
			bad = []string{"not-a-position", "-5"}
		case "asOf", "from", "to":
			bad = []string{"yesterday", "2026-13-45T99:00:00Z"}
		case "cursor":
			bad = []string{strings.Repeat("z", 5000)}
		default:
			if p.Schema != nil && p.Schema.Value != nil && len(p.Schema.Value.Enum) > 0 {
				bad = []string{"bogus"}
			}
		}
		for _, v := range bad {
			q2 := url.Values{}
			for k, vs := range q {
				q2[k] = vs
			}
			q2.Set(p.Name, v)
			add(fmt.Sprintf("query %s=%.20s", p.Name, v), path, q2.Encode(), body)
		}
	}
	out = append(out, badRequest{why: "no token", path: path, query: query, body: body, ctype: ctype, anonymous: true})
	return out
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for k2, v2 := range m {
		if k2 != k {
			out[k2] = v2
		}
	}
	return out
}

func without(m map[string]any, k string) map[string]any {
	out := map[string]any{}
	for k2, v2 := range m {
		if k2 != k {
			out[k2] = v2
		}
	}
	return out
}

// fixtures names things that exist, for path parameters and bodies.
type fixtures struct {
	device, project, cloudProject, job, item, node, role, user string
	n                                                          int
	at                                                         string // the last fixture's position
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
	fx.at = alice.command("POST", "/v1/cloud-projects/"+fx.cloudProject+"/stylesheets", map[string]any{"name": "s1"}).Position
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
			return []string{devices.Name}
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
