package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/shareledger/shareledger/commands/auth"
	"github.com/shareledger/shareledger/domain"
)

// auditCmd prints an entity's history from a running service.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	f := newFlags("audit", stderr)
	var base, tok, user, acc, dataDir, format, actor, typ, from, to string
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger audit [flags] KIND:ID\n\n"+
			"Prints the history of an entity (account, partnership, device, project, item, node, user, role,\n"+
			"job, member, cloud-project, stream), every event with who, when, which command and why,\n"+
			"as the running service at --url knows it. Example: shareledger audit --user alice@acme.example --account acme device:1234\n\nFlags:\n")
		f.PrintDefaults()
	}
	f.str(&base, "url", "SHARELEDGER_URL", "http://127.0.0.1:8080", "the service")
	f.str(&tok, "token", "SHARELEDGER_TOKEN", "", "a bearer token (or mint one with --user and --account)")
	f.str(&user, "user", "SHARELEDGER_USER", "", "mint a token for this administrator...")
	f.str(&acc, "account", "SHARELEDGER_ACCOUNT", "", "...of this account, with the key in --data")
	f.str(&dataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "data folder holding the signing key")
	f.str(&format, "format", "SHARELEDGER_AUDIT_FORMAT", "jsonl", "jsonl or csv")
	f.str(&actor, "actor", "SHARELEDGER_AUDIT_ACTOR", "", "only events by this user")
	f.str(&typ, "type", "SHARELEDGER_AUDIT_TYPE", "", "only this event type")
	f.str(&from, "from", "SHARELEDGER_AUDIT_FROM", "", "RFC 3339 time, inclusive")
	f.str(&to, "to", "SHARELEDGER_AUDIT_TO", "", "RFC 3339 time, exclusive")
	if err := f.Parse(args); err != nil {
		return err
	}
	kind, id, ok := strings.Cut(f.Arg(0), ":")
	if f.NArg() != 1 || !ok || kind == "" || id == "" {
		f.Usage()
		return errors.New("name one entity as KIND:ID")
	}
	if tok == "" {
		u, errU := domain.ParseUser(user)
		a, errA := domain.ParseOrganization(acc)
		if err := errors.Join(errU, errA); err != nil {
			return fmt.Errorf("give --token, or --user and --account: %w", err)
		}
		keys, err := auth.LoadOrCreate(filepath.Join(dataDir, "signing.key"))
		if err != nil {
			return err
		}
		if tok, err = keys.Mint(u, a, time.Hour); err != nil {
			return err
		}
	}
	q := url.Values{"format": {format}}
	for k, v := range map[string]string{"actor": actor, "type": typ, "from": from, "to": to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/audit/"+url.PathEscape(kind)+"/"+url.PathEscape(id)+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s: %s", res.Status, b)
	}
	_, err = io.Copy(stdout, res.Body)
	return err
}
