package readapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/auth"
	"github.com/shareledger/shareledger/commands/problem"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/directory"
)

// AuditRoutes mounts the audit trail.
func (a *API) AuditRoutes(r chi.Router) {
	r.Get("/v1/audit/{kind}/{id}", a.auditTrail)
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
				return f, &problem.BadRequest{Code: "invalid-time", Err: errors.New(name + " must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z")}
			}
			*at = t
		}
	}
	return f, nil
}

func (f auditFilter) keep(e *audit.Entry, viewer domain.AccountID) bool {
	return slices.Contains(e.Accounts, string(viewer)) &&
		(f.actor == "" || e.Actor == f.actor) &&
		(f.account == "" || slices.Contains(e.Accounts, f.account)) &&
		(f.typ == "" || e.Type == f.typ) &&
		(f.from.IsZero() || !e.Time.Before(f.from)) &&
		(f.to.IsZero() || e.Time.Before(f.to))
}

// auditTrail answers an entity's history: pages of JSON with a cursor, or
// the whole of it as JSON lines (format=jsonl) or CSV (format=csv). Only
// administrators audit, and only what their account is entitled to see.
func (a *API) auditTrail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor, ok := auth.Caller(ctx)
	if !ok {
		problem.Write(w, r, auth.ErrUnauthenticated)
		return
	}
	filter, err := parseAuditFilter(r)
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	if raw := r.URL.Query().Get("position"); raw != "" {
		pos, err := eventstore.ParsePosition(raw)
		if err != nil {
			problem.Write(w, r, &problem.BadRequest{Code: "invalid-position", Err: err})
			return
		}
		wctx, cancel := context.WithTimeout(ctx, a.waitTimeout())
		err = a.Progress.Wait(wctx, pos, "directory", "audit")
		cancel()
		if err != nil {
			problem.Write(w, r, err)
			return
		}
	}
	prefix := audit.Key(chi.URLParam(r, "kind"), chi.URLParam(r, "id"))
	format := r.URL.Query().Get("format")
	page := projections.Page{Prefix: prefix}
	if format == "" || format == "json" {
		if page, err = pageOf(r, prefix); err != nil {
			problem.Write(w, r, err)
			return
		}
	} else if format != "jsonl" && format != "csv" {
		problem.Write(w, r, &problem.BadRequest{Code: "invalid-format", Err: errors.New("format must be json, jsonl or csv")})
		return
	}
	var entries Page[audit.Entry]
	err = a.Store.View(ctx, func(tx projections.Reader) error {
		var caller directory.User
		found, err := tx.Get(ctx, directory.Users, directory.UserKey(actor.Account, actor.User), &caller)
		if err != nil {
			return err
		}
		if !found {
			return account.ErrNotMember.Withf("%s is not a user of account %s", actor.User, actor.Account)
		}
		if caller.Role != account.Administrator.String() {
			return domain.ErrNotAdministrator.Withf("only administrators of %s may read the audit trail", actor.Account)
		}
		entries, err = list(ctx, tx, audit.Table, page, func(e *audit.Entry) bool { return filter.keep(e, actor.Account) })
		return err
	})
	if err != nil {
		problem.Write(w, r, err)
		return
	}
	switch format {
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, e := range entries.Items {
			_ = enc.Encode(e)
		}
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"position", "time", "type", "version", "stream", "revision", "actor", "actor_account", "command_id", "correlation_id", "summary"})
		for _, e := range entries.Items {
			_ = cw.Write([]string{e.Position.String(), e.Time.Format(time.RFC3339Nano), e.Type, strconv.Itoa(e.Version), e.Stream,
				strconv.FormatUint(e.Revision, 10), e.Actor, e.ActorAccount, e.CommandID, e.CorrelationID, e.Summary})
		}
		cw.Flush()
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(entries)
	}
}
