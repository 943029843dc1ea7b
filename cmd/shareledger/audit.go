package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// auditCmd prints an entity's history from a running service.
func auditCmd(args []string, stdout, stderr io.Writer) error {
	f := newFlags("audit", stderr)
	var c remote
	var format, actor, typ, from, to string
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger audit [flags] KIND:ID\n\n"+
			"Prints the history of an entity (account, partnership, device, project, item, node, user, role,\n"+
			"job, member, cloud-project, stream), every event with who, when, which command and why,\n"+
			"as the running service at --url knows it. Example: shareledger audit --user alice@acme.example --account acme device:1234\n\nFlags:\n")
		f.PrintDefaults()
	}
	c.flags(f)
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
	q := url.Values{"format": {format}}
	for k, v := range map[string]string{"actor": actor, "type": typ, "from": from, "to": to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.get("/v1/audit/"+url.PathEscape(kind)+"/"+url.PathEscape(id)+"?"+q.Encode(), stdout)
}
