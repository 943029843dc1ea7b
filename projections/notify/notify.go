// Package notify sends the e-mails that events call for, through a Mailer,
// and projects the notification outbox: every mail sent, per account.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns.
const (
	Table        = "notify.outbox" // account/position-n -> Notification
	orgs         = "notify.orgs"
	projectNames = "notify.cloudprojects"
	quotas       = "notify.quotas" // account/user -> quota: mails caused today
)

// quota counts the mails one person caused on one day (UTC).
type quota struct {
	Day   string `json:"day"`
	Count int    `json:"count"`
}

// Mail is one message to one person. ID is stable for the event and
// recipient, so a retried send can be recognised.
type Mail struct {
	ID      string
	To      string
	Subject string
	Body    string
}

// Mailer delivers mail: a folder on disk by default, SMTP in production.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Notification is one row of an account's outbox.
type Notification struct {
	ID          string           `json:"id"`
	To          domain.UserID    `json:"to"`
	Subject     string           `json:"subject"`
	Body        string           `json:"body"`
	Partnership partnership.ID   `json:"partnership"`
	From        domain.AccountID `json:"from"`
	SentAt      time.Time        `json:"sentAt"`
	// Project is the cloud project of a team invitation.
	Project team.ID `json:"project,omitempty"`
	// Status is "sent"; "failed" when the mail server refused the
	// recipient for good, Failure then being the server's answer; or
	// "limited" when the person who caused it had caused the most mails
	// allowed in a day, Failure then saying so.
	Status  string `json:"status"`
	Failure string `json:"failure,omitempty"`
}

// PermanentError is a refusal that sending again will not change: the
// mail server does not know the recipient, or refuses them.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// deliver sends m. A permanent refusal (PermanentError, or an SMTP reply
// of the 5xx class) is not an error: it is recorded on the notification and
// the projection goes on, so one bad mailbox never holds back anyone
// else's mail. Anything else is transient, and the event is retried.
func (p Projection) deliver(ctx context.Context, tx projections.Tx, env projections.Envelope, m Mail, n *Notification) error {
	ok, err := p.allow(ctx, tx, env)
	if err != nil {
		return err
	}
	if !ok {
		n.Status = "limited"
		n.Failure = fmt.Sprintf("not sent: %s had caused %d mails on %s (UTC), the most allowed in a day", env.Record.Meta.User, p.PerDay, day(env))
		return nil
	}
	n.Status = "sent"
	err = p.Mailer.Send(ctx, m)
	var perm *PermanentError
	var reply *textproto.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &perm), errors.As(err, &reply) && reply.Code >= 500 && reply.Code < 600:
		n.Status, n.Failure = "failed", err.Error()
		return nil
	}
	return projections.Transient(fmt.Errorf("send mail %s to %s: %w", m.ID, m.To, err))
}

// allow counts one more mail against the quota of the person whose
// command the event records, by the event's time, so a rebuild decides as
// the live projection did.
func (p Projection) allow(ctx context.Context, tx projections.Tx, env projections.Envelope) (bool, error) {
	if p.PerDay <= 0 {
		return true, nil
	}
	key := projections.Key(env.Record.Meta.Account, env.Record.Meta.User)
	var q quota
	if _, err := tx.Get(ctx, quotas, key, &q); err != nil {
		return false, err
	}
	if d := day(env); q.Day != d {
		q = quota{Day: d}
	}
	if q.Count >= p.PerDay {
		return false, nil
	}
	q.Count++
	return true, tx.Put(ctx, quotas, key, q)
}

func day(env projections.Envelope) string {
	return env.Record.Meta.Time.UTC().Format(time.DateOnly)
}

// Projection sends partnership request mails and records them. It sends
// inside the projection's transaction: if the commit fails, the event is
// handled again and the mail is sent again with the same ID, which the
// folder mailer ignores and an SMTP server can deduplicate by Message-ID.
type Projection struct {
	Mailer Mailer
	Now    func() time.Time
	// PerDay caps the mails one person's commands cause in a day (UTC);
	// the ones over it are recorded as limited and not sent. 0: no cap.
	PerDay int
}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "notifier"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (p Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	switch e := env.Event.(type) {
	case account.AccountOpened:
		return tx.Put(ctx, orgs, projections.KeyPart(string(e.Account)), e.Organization)
	case team.CloudProjectCreated:
		return tx.Put(ctx, projectNames, projections.KeyPart(string(e.Project)), e.Name)
	case team.CloudProjectRenamed:
		return tx.Put(ctx, projectNames, projections.KeyPart(string(e.Project)), e.Name)
	case team.MemberInvited:
		var name string
		if _, err := tx.Get(ctx, projectNames, projections.KeyPart(string(e.Project)), &name); err != nil {
			return err
		}
		body := fmt.Sprintf("%s added you to the cloud project %s as %s.\n\nOpen the project: /v1/cloud-projects/%s\n", e.By, name, e.Role, e.Project)
		if !e.Active {
			body = fmt.Sprintf("%s invited you to the cloud project %s as %s.\n\nCreate your identity with this e-mail address (%s) to join it; the project will be waiting.\n", e.By, name, e.Role, e.Email)
		}
		m := Mail{ID: env.Record.ID, To: string(e.Email), Subject: "You are invited to " + name, Body: body}
		n := Notification{ID: m.ID, To: e.Email, Subject: m.Subject, Body: m.Body, Project: e.Project, From: domain.AccountID(env.Record.Meta.Account), SentAt: p.now()}
		if err := p.deliver(ctx, tx, env, m, &n); err != nil {
			return err
		}
		// The invitation is in the outbox of the account the inviter
		// acted for.
		key := fmt.Sprintf("%020d.%020d-0000", env.Record.Position.Commit, env.Record.Position.Prepare)
		if acc := env.Record.Meta.Account; acc != "" {
			return tx.Put(ctx, Table, projections.Key(acc, key), n)
		}
	case partnership.PartnerRequested:
		var from, to string
		if _, err := tx.Get(ctx, orgs, projections.KeyPart(string(e.Requester)), &from); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, orgs, projections.KeyPart(string(e.Partner)), &to); err != nil {
			return err
		}
		for i, user := range e.Notify {
			note := ""
			if e.Message != "" {
				note = fmt.Sprintf("\n%s writes: %s\n", e.By, e.Message)
			}
			m := Mail{
				ID:      fmt.Sprintf("%s-%d", env.Record.ID, i),
				To:      string(user),
				Subject: fmt.Sprintf("%s asks %s to become partners", from, to),
				Body: fmt.Sprintf("%s (%s) asks your account %s to become its %s partner, so that devices can be shared between the two accounts.\n\n"+
					"Sign in to ShareLedger and open the Partners page to approve or decline the request %s.\n%s", from, e.By, to, e.Type, e.Partnership, note),
			}
			n := Notification{ID: m.ID, To: user, Subject: m.Subject, Body: m.Body, Partnership: e.Partnership, From: e.Requester, SentAt: p.now()}
			if err := p.deliver(ctx, tx, env, m, &n); err != nil {
				return err
			}
			key := fmt.Sprintf("%020d.%020d-%04d", env.Record.Position.Commit, env.Record.Position.Prepare, i)
			for _, acc := range []domain.AccountID{e.Requester, e.Partner} {
				if err := tx.Put(ctx, Table, projections.Key(string(acc), key), n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p Projection) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
