// Package console serves the ShareLedger console at /console: pages for
// people who would rather look than read JSON. Auditors see the history of
// their account and of everything in it, and who could do what, and why,
// at any moment; operators see the projections and run rebuilds.
//
// The pages are rendered on the server from the templates embedded here;
// htmx (vendored under static/, 0BSD) loads older entries and keeps a
// rebuild's progress live. The console is a client of the service's own
// API, called in process with the caller's token: it answers exactly what
// the API answers that caller, no more. The token is kept in an HttpOnly,
// SameSite=Strict cookie that only /console reads; it never appears in an
// address or a log.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/readapi"
	"github.com/shareledger/shareledger/replay"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Console serves the pages.
type Console struct {
	// API is the service's router: the console calls it in process.
	API http.Handler
	// Identify checks a token: whose it is, or that it is an operator's.
	Identify func(token string) (actor domain.Actor, operator bool, err error)

	pages map[string]*template.Template
}

const cookie = "shareledger_console"

// New builds the console over api.
func New(api http.Handler, identify func(string) (domain.Actor, bool, error)) (*Console, error) {
	c := &Console{API: api, Identify: identify, pages: map[string]*template.Template{}}
	for _, page := range []string{"signin", "home", "history", "rights", "operations"} {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		c.pages[page] = t
	}
	return c, nil
}

// Routes mounts the console; it authenticates its own requests.
func (c *Console) Routes(r chi.Router) {
	static, _ := fs.Sub(staticFiles, "static")
	r.Handle("/console/static/*", http.StripPrefix("/console/static/", http.FileServer(http.FS(static))))
	r.Get("/console", c.home)
	r.Get("/console/signin", func(w http.ResponseWriter, r *http.Request) { c.render(w, "signin", view{Title: "Sign in"}) })
	r.Post("/console/signin", c.signin)
	r.Post("/console/signout", c.signout)
	r.Get("/console/history", c.history)
	r.Get("/console/history/rows", c.historyRows)
	r.Get("/console/history/export", c.export)
	r.Get("/console/rights", c.rights)
	r.Get("/console/operations", c.operations)
	r.Get("/console/operations/rebuilds", c.rebuildRows)
	r.Post("/console/operations/rebuilds", c.startRebuild)
	r.Get("/console/operations/verification", c.verification)
	r.Post("/console/operations/verifications", c.startVerify)
}

// view is what every page shows around its body.
type view struct {
	Title, Problem, User, Account string
	Signed, Operator              bool
}

// session is the signed-in caller of a request.
type session struct {
	token    string
	actor    domain.Actor
	operator bool
}

func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookie)
	if err != nil || ck.Value == "" {
		return session{}, false
	}
	actor, operator, err := c.Identify(ck.Value)
	if err != nil {
		return session{}, false
	}
	return session{token: ck.Value, actor: actor, operator: operator}, true
}

func (s session) view(title string) view {
	return view{Title: title, Signed: true, Operator: s.operator, User: string(s.actor.User), Account: string(s.actor.Account)}
}

// signedIn runs page for a signed-in caller (an operator, if operator),
// and sends others to the sign-in page.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request, operator bool, page func(session)) {
	s, ok := c.session(r)
	if !ok {
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return
	}
	if s.operator != operator {
		w.WriteHeader(http.StatusForbidden)
		v := s.view("Not for this token")
		v.Problem = "This page is for " + map[bool]string{true: "operators", false: "an account's administrators"}[operator] + "."
		c.render(w, "home", v)
		return
	}
	page(s)
}

func (c *Console) render(w http.ResponseWriter, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
	var b bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b.Bytes())
}

func (c *Console) fragment(w http.ResponseWriter, page, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := c.pages[page].ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, false, func(s session) { c.render(w, "home", s.view("Console")) })
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	token := strings.TrimSpace(r.PostFormValue("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	if _, _, err := c.Identify(token); err != nil || token == "" {
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, "signin", view{Title: "Sign in", Problem: "That token is not valid here (expired, or minted with another key)."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookie, Value: token, Path: "/console", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookie, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// call asks the API as the signed-in caller and decodes its answer into
// out; a refusal comes back as the problem's detail.
func (c *Console) call(ctx context.Context, s session, method, path string, body any, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	c.API.ServeHTTP(rec, req)
	if rec.status >= 300 {
		var p struct {
			Detail string `json:"detail"`
			Title  string `json:"title"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &p)
		if p.Detail == "" {
			p.Detail = p.Title
		}
		return errors.New(p.Detail)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(rec.body.Bytes(), out)
}

// recorder keeps an in-process answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// ---- History

type historyView struct {
	view
	Kinds                  []string
	Kind, ID, Actor, Type  string
	From, To               string
	Caption                string
	ExportCSV, ExportJSONL string
	Entries                []historyRow
	Next, NextRows         string
}

type historyRow struct {
	Time, Type, Position, Actor, ActorAccount, Summary, CommandID, CorrelationID, Data string
	Version                                                                            int
	Links                                                                              []link
}

type link struct{ Kind, ID, Href string }

// historyQuery is the API's question for the page's filters.
func historyQuery(r *http.Request, s session) (kind, id string, q url.Values) {
	in := r.URL.Query()
	kind, id = in.Get("kind"), in.Get("id")
	if kind == "" {
		kind = "account"
	}
	if id == "" && kind == "account" {
		id = string(s.actor.Account)
	}
	q = url.Values{}
	for _, k := range []string{"actor", "type", "from", "to", "cursor"} {
		if v := in.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	return kind, id, q
}

func (c *Console) loadHistory(r *http.Request, s session) (historyView, error) {
	kind, id, q := historyQuery(r, s)
	in := r.URL.Query()
	v := historyView{view: s.view("History"), Kinds: audit.Kinds, Kind: kind, ID: id, Actor: in.Get("actor"), Type: in.Get("type"), From: in.Get("from"), To: in.Get("to")}
	v.Caption = fmt.Sprintf("The history of %s %s, oldest first", kind, id)
	export := url.Values{"kind": {kind}, "id": {id}}
	for _, k := range []string{"actor", "type", "from", "to"} {
		if x := q.Get(k); x != "" {
			export.Set(k, x)
		}
	}
	export.Set("format", "csv")
	v.ExportCSV = "/console/history/export?" + export.Encode()
	export.Set("format", "jsonl")
	v.ExportJSONL = "/console/history/export?" + export.Encode()
	q.Set("limit", "50")
	var page readapi.Page[audit.Entry]
	if err := c.call(r.Context(), s, http.MethodGet, "/v1/audit/"+url.PathEscape(kind)+"/"+url.PathEscape(id)+"?"+q.Encode(), nil, &page); err != nil {
		return v, err
	}
	for _, e := range page.Items {
		row := historyRow{Time: e.Time.UTC().Format(time.RFC3339), Type: e.Type, Version: e.Version, Position: e.Position.String(), Actor: e.Actor,
			ActorAccount: e.ActorAccount, Summary: e.Summary, CommandID: e.CommandID, CorrelationID: e.CorrelationID}
		var pretty bytes.Buffer
		if json.Indent(&pretty, e.Data, "", "  ") == nil {
			row.Data = pretty.String()
		}
		payload, _ := audit.PayloadOf(e.Data)
		for _, en := range audit.EntitiesOf(e.Type, e.Stream, payload) {
			row.Links = append(row.Links, link{Kind: en.Kind, ID: en.ID, Href: "/console/history?" + url.Values{"kind": {en.Kind}, "id": {en.ID}}.Encode()})
		}
		v.Entries = append(v.Entries, row)
	}
	if page.Next != "" {
		more := r.URL.Query()
		more.Set("kind", kind)
		more.Set("id", id)
		more.Set("cursor", page.Next)
		v.Next = "/console/history?" + more.Encode()
		v.NextRows = "/console/history/rows?" + more.Encode()
	}
	return v, nil
}

func (c *Console) history(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, false, func(s session) {
		v, err := c.loadHistory(r, s)
		if err != nil {
			v.Problem = err.Error()
		}
		c.render(w, "history", v)
	})
}

func (c *Console) historyRows(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, false, func(s session) {
		v, err := c.loadHistory(r, s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.fragment(w, "history", "historyRows", v)
	})
}

// export sends what the page shows, whole, as CSV or JSON lines.
func (c *Console) export(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, false, func(s session) {
		kind, id, q := historyQuery(r, s)
		format := r.URL.Query().Get("format")
		if format != "csv" {
			format = "jsonl"
		}
		q.Set("format", format)
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "/v1/audit/"+url.PathEscape(kind)+"/"+url.PathEscape(id)+"?"+q.Encode(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		ext := map[string]string{"csv": "csv", "jsonl": "jsonl"}[format]
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="history-%s.%s"`, kind, ext))
		c.API.ServeHTTP(w, req)
	})
}

// ---- Who could, and why

type rightsView struct {
	view
	Of, ID, At, Then string
	Caption          string
	Compared         bool
	Rows             []rightsRow
}

type rightsRow struct {
	Who, Name, Rights, Before, ChangeClass string
	Sources                                []string
	Changed                                bool
}

// moment is the API's parameter for a time or a position ("" for now).
func moment(s string) (url.Values, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return url.Values{}, nil
	}
	if _, err := time.Parse(time.RFC3339, s); err == nil {
		return url.Values{"asOf": {s}}, nil
	}
	if strings.Trim(s, "0123456789.") == "" {
		return url.Values{"atPosition": {s}}, nil
	}
	return nil, fmt.Errorf("%q is neither a time (2026-03-01T09:00:00Z) nor a position (42)", s)
}

func (c *Console) grid(ctx context.Context, s session, of, id, at string) (map[string]readapi.GridRow, []string, error) {
	q, err := moment(at)
	if err != nil {
		return nil, nil, err
	}
	path := "/v1/rights/members/" + url.PathEscape(id) + "/grid"
	if of == "item" {
		path = "/v1/rights/items/" + url.PathEscape(id) + "/grid"
	}
	rows := map[string]readapi.GridRow{}
	var order []string
	for cursor := ""; ; {
		q.Set("limit", "500")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page readapi.Page[readapi.GridRow]
		if err := c.call(ctx, s, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, nil, err
		}
		for _, g := range page.Items {
			rows[string(g.User)] = g
			order = append(order, string(g.User))
		}
		if cursor = page.Next; cursor == "" || len(order) >= 5000 {
			return rows, order, nil
		}
	}
}

func (c *Console) rights(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, false, func(s session) {
		in := r.URL.Query()
		v := rightsView{view: s.view("Who could, and why"), Of: in.Get("of"), ID: strings.TrimSpace(in.Get("id")), At: in.Get("at"), Then: in.Get("then")}
		if v.Of == "" {
			v.Of = "member"
		}
		if v.ID == "" {
			c.render(w, "rights", v)
			return
		}
		if v.Of == "device" {
			c.deviceUsers(w, r, s, v)
			return
		}
		now, order, err := c.grid(r.Context(), s, v.Of, v.ID, v.At)
		if err != nil {
			v.Problem = err.Error()
			c.render(w, "rights", v)
			return
		}
		when := "now"
		if v.At != "" {
			when = "at " + v.At
		}
		v.Caption = fmt.Sprintf("Who may see or change %s %s, %s, and why", v.Of, v.ID, when)
		var before map[string]readapi.GridRow
		if strings.TrimSpace(v.Then) != "" {
			if before, _, err = c.grid(r.Context(), s, v.Of, v.ID, v.Then); err != nil {
				v.Problem = "compared with " + v.Then + ": " + err.Error()
			} else {
				v.Compared = true
				v.Caption += fmt.Sprintf(", compared with %s", v.Then)
			}
		}
		for _, u := range order {
			g := now[u]
			row := rightsRow{Who: u, Name: g.Name, Rights: describe(g)}
			for _, src := range g.Sources {
				row.Sources = append(row.Sources, source(src.Via, src.Name, string(src.Collection), src.Rights.Item.String(), src.Rights.Member.String()))
			}
			if v.Compared {
				then := before[u]
				row.Before = describe(then)
				if row.Before != row.Rights {
					row.Changed = true
					row.ChangeClass = "gain"
					if then.Rights.Max(g.Rights) == then.Rights {
						row.ChangeClass = "loss"
					}
				}
			}
			v.Rows = append(v.Rows, row)
		}
		c.render(w, "rights", v)
	})
}

// deviceUsers answers for a device: the accounts that may use it (its
// owner, and the partners it is shared with) at a moment, and what changed
// since another.
func (c *Console) deviceUsers(w http.ResponseWriter, r *http.Request, s session, v rightsView) {
	users := func(at string) (map[string]string, []string, error) {
		q, err := moment(at)
		if err != nil {
			return nil, nil, err
		}
		var d devices.Device
		if err := c.call(r.Context(), s, http.MethodGet, "/v1/devices/"+url.PathEscape(v.ID)+"?"+q.Encode(), nil, &d); err != nil {
			return nil, nil, err
		}
		out := map[string]string{string(d.Owner.ID): "owns it; its credentials are this account's"}
		order := []string{string(d.Owner.ID)}
		for _, a := range d.ActiveAccounts {
			if a.ID != d.Owner.ID {
				out[string(a.ID)] = "uses it: shared by " + d.Owner.Organization + " through their partnership"
				order = append(order, string(a.ID))
			}
		}
		return out, order, nil
	}
	now, order, err := users(v.At)
	if err != nil {
		v.Problem = err.Error()
		c.render(w, "rights", v)
		return
	}
	when := "now"
	if v.At != "" {
		when = "at " + v.At
	}
	v.Caption = fmt.Sprintf("Which accounts may use device %s, %s, and why", v.ID, when)
	var before map[string]string
	if strings.TrimSpace(v.Then) != "" {
		if before, _, err = users(v.Then); err != nil {
			v.Problem = "compared with " + v.Then + ": " + err.Error()
		} else {
			v.Compared = true
		}
	}
	for _, acc := range order {
		row := rightsRow{Who: acc, Rights: "may use it", Sources: []string{now[acc]}}
		if v.Compared {
			if _, was := before[acc]; !was {
				row.Changed, row.Before, row.ChangeClass = true, "could not", "gain"
			}
		}
		v.Rows = append(v.Rows, row)
	}
	if v.Compared {
		for acc := range before {
			if _, is := now[acc]; !is {
				v.Rows = append(v.Rows, rightsRow{Who: acc, Rights: "may not use it", Sources: []string{"no longer shared"}, Changed: true, Before: "could", ChangeClass: "loss"})
			}
		}
	}
	c.render(w, "rights", v)
}

func describe(g readapi.GridRow) string {
	return "item " + g.Rights.Item.String() + ", members " + g.Rights.Member.String()
}

func source(via, name, collection, item, member string) string {
	out := via
	if name != "" {
		out += " " + name
	}
	if collection != "" {
		out += " through " + collection
	}
	return out + " (item " + item + ", members " + member + ")"
}

// ---- Operations

type operationsView struct {
	view
	Projections []readapi.ProjectionStatus
	Rebuilds    []rebuildRow
	Verify      *readapi.VerifyState
}

// latestVerify is this instance's latest verification, if there was one.
func (c *Console) latestVerify(ctx context.Context, s session) *readapi.VerifyState {
	var st readapi.VerifyState
	if err := c.call(ctx, s, http.MethodGet, "/v1/admin/verifications", nil, &st); err != nil {
		return nil
	}
	return &st
}

func (c *Console) verification(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, true, func(s session) {
		c.fragment(w, "operations", "verifyResult", operationsView{Verify: c.latestVerify(r.Context(), s)})
	})
}

func (c *Console) startVerify(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, true, func(s session) {
		if err := c.call(r.Context(), s, http.MethodPost, "/v1/admin/verifications", readapi.RebuildRequest{}, nil); err != nil {
			v := operationsView{view: s.view("Operations")}
			v.Problem = "the verification did not start: " + err.Error()
			w.WriteHeader(http.StatusConflict)
			c.render(w, "operations", v)
			return
		}
		http.Redirect(w, r, "/console/operations", http.StatusSeeOther)
	})
}

type rebuildRow struct {
	replay.RebuildState
	Percent int
}

func (c *Console) rebuilds(ctx context.Context, s session) ([]rebuildRow, error) {
	var page readapi.Page[replay.RebuildState]
	if err := c.call(ctx, s, http.MethodGet, "/v1/admin/rebuilds", nil, &page); err != nil {
		return nil, err
	}
	var out []rebuildRow
	for _, st := range page.Items {
		row := rebuildRow{RebuildState: st}
		switch {
		case st.State == replay.Swapped:
			row.Percent = 100
		case st.Total > 0:
			row.Percent = int(min(100, st.Done*100/st.Total))
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) operations(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, true, func(s session) {
		v := operationsView{view: s.view("Operations")}
		var page readapi.Page[readapi.ProjectionStatus]
		err := c.call(r.Context(), s, http.MethodGet, "/v1/admin/projections", nil, &page)
		v.Projections = page.Items
		if err == nil {
			v.Rebuilds, err = c.rebuilds(r.Context(), s)
		}
		v.Verify = c.latestVerify(r.Context(), s)
		if err != nil {
			v.Problem = err.Error()
		}
		c.render(w, "operations", v)
	})
}

func (c *Console) rebuildRows(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, true, func(s session) {
		rows, err := c.rebuilds(r.Context(), s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c.fragment(w, "operations", "rebuildRows", operationsView{Rebuilds: rows})
	})
}

func (c *Console) startRebuild(w http.ResponseWriter, r *http.Request) {
	c.signedIn(w, r, true, func(s session) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := readapi.RebuildRequest{Projections: r.PostForm["projection"]}
		if err := c.call(r.Context(), s, http.MethodPost, "/v1/admin/rebuilds", req, nil); err != nil {
			v := operationsView{view: s.view("Operations")}
			v.Problem = "the rebuild did not start: " + err.Error()
			w.WriteHeader(http.StatusConflict)
			c.render(w, "operations", v)
			return
		}
		http.Redirect(w, r, "/console/operations", http.StatusSeeOther)
	})
}
