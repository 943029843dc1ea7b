package readapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/directory"
)

// AuditRoutes mounts the audit trail.
func (a *API) AuditRoutes(r chi.Router) {
	r.Get("/v1/audit/{kind}/{id}", a.serve([]string{audit.Name}, a.auditTrail))
}

// auditFilter selects entries of a history.
type auditFilter struct {
	actor, account, typ string
	from, to            time.Time
}

func parseAuditFilter(r *http.Request) (auditFilter, error) {
	q := r.URL.Query()
	f := auditFilter{actor: q.Get("actor"), account: q.Get("account"), typ: q.Get("type")}
	for name, at := range map[string]*time.Time{"from": &f.from, "to": &f.to} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, &httpapi.BadRequest{Code: "invalid-time", Err: errors.New(name + " must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z")}
			}
			*at = t
		}
	}
	return f, nil
}

func (f auditFilter) keep(e *audit.Entry) bool {
	return (f.actor == "" || e.Actor == f.actor) &&
		(f.account == "" || slices.Contains(e.Accounts, f.account)) &&
		(f.typ == "" || e.Type == f.typ) &&
		(f.from.IsZero() || !e.Time.Before(f.from)) &&
		(f.to.IsZero() || e.Time.Before(f.to))
}

// auditTrail answers an entity's history: pages of JSON with a cursor, or
// the whole of it as JSON lines (format=jsonl) or CSV (format=csv). Only
// administrators audit, and only what their account is entitled to see.
func (a *API) auditTrail(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	if caller.Role != account.Administrator.String() {
		return nil, domain.ErrNotAdministrator.Withf("only administrators of %s may read the audit trail", caller.Account)
	}
	filter, err := parseAuditFilter(r)
	if err != nil {
		return nil, err
	}
	kind := chi.URLParam(r, "kind")
	if !slices.Contains(audit.Kinds, kind) {
		return nil, errNotFound.Withf("no kind of entity %s; the kinds are %s", domain.Quote(kind), strings.Join(audit.Kinds, ", "))
	}
	q, id := audit.Query{R: tx}, chi.URLParam(r, "id")
	if ok, err := q.Knows(ctx, kind, id, caller.Account); err != nil {
		return nil, err
	} else if !ok {
		// Another account's entity, or none: the same answer, so the
		// audit trail does not tell which ids other accounts use.
		return nil, errNotFound.Withf("account %s has no history of %s %s", caller.Account, kind, domain.Quote(id))
	}
	format := r.URL.Query().Get("format")
	var page projections.Page
	switch format {
	case "", "json":
		if page, err = pageOf(r, ""); err != nil {
			return nil, err
		}
	case "jsonl", "csv":
		page.Limit = exportPage
	default:
		return nil, &httpapi.BadRequest{Code: "invalid-format", Err: errors.New("format must be json, jsonl or csv")}
	}
	entries, next, err := q.History(ctx, kind, id, caller.Account, page, filter.keep)
	if err != nil || format == "" || format == "json" {
		return Page[audit.Entry]{Items: entries, Next: next}, err
	}
	more := func(ctx context.Context, after string) (entries []audit.Entry, next string, err error) {
		err = a.Store.View(ctx, func(tx projections.Reader) error {
			entries, next, err = audit.Query{R: tx}.History(ctx, kind, id, caller.Account, projections.Page{Limit: exportPage, After: after}, filter.keep)
			return err
		})
		return entries, next, err
	}
	return auditExport{format: format, entries: entries, next: next, more: more}, nil
}

// exportPage is how many entries an export reads at a time: a history of
// any length is written with this many in memory.
const exportPage = 500

// auditExport is a whole history as JSON lines or CSV: its first page,
// read with the request's checks, and the pages after it, each read in a
// transaction of its own as the answer is written (a history only grows
// at its end, so the pages join up).
type auditExport struct {
	format  string
	entries []audit.Entry
	next    string
	more    func(ctx context.Context, after string) ([]audit.Entry, string, error)
}

func (x auditExport) write(w http.ResponseWriter, r *http.Request) {
	var put func(audit.Entry) error
	var flush func() error
	if x.format == "jsonl" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		put, flush = func(e audit.Entry) error { return enc.Encode(e) }, func() error { return nil }
	} else {
		w.Header().Set("Content-Type", "text/csv")
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"position", "time", "type", "version", "stream", "revision", "actor", "actor_account", "command_id", "idempotency_key", "correlation_id", "summary"})
		put = func(e audit.Entry) error {
			return cw.Write([]string{e.Position.String(), e.Time.Format(time.RFC3339Nano), e.Type, strconv.Itoa(e.Version), e.Stream,
				strconv.FormatUint(e.Revision, 10), e.Actor, e.ActorAccount, e.CommandID, e.IdempotencyKey, e.CorrelationID, e.Summary})
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	}
	entries, next := x.entries, x.next
	for {
		for _, e := range entries {
			if err := put(e); err != nil {
				return // the client went away
			}
		}
		if err := flush(); err != nil || next == "" {
			return
		}
		var err error
		if entries, next, err = x.more(r.Context(), next); err != nil {
			// The status line is sent: cut the answer short, so that the
			// client sees a broken transfer rather than a shorter history.
			panic(http.ErrAbortHandler)
		}
	}
}
