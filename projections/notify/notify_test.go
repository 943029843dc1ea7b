package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/textproto"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/memory"
	"github.com/shareledger/shareledger/projections/notify"
)

// refusing is a mail server that refuses some recipients for good and is
// down for others.
type refusing struct {
	sent []string
}

func (r *refusing) Send(_ context.Context, m notify.Mail) error {
	switch m.To {
	case "gone@rentco.test":
		return &textproto.Error{Code: 550, Msg: "5.1.1 no such mailbox"}
	case "busy@rentco.test":
		return &textproto.Error{Code: 451, Msg: "4.3.0 try again later"}
	}
	r.sent = append(r.sent, m.To)
	return nil
}

// TestARefusedRecipientIsRecordedAndSkipped: a permanent refusal of one
// recipient is written on that notification and the others are sent; a
// temporary one is retried (the event is not done).
func TestARefusedRecipientIsRecordedAndSkipped(t *testing.T) {
	ctx := context.Background()
	mailer := &refusing{}
	p := notify.Projection{Mailer: mailer, Now: time.Now}
	store := memory.New(nil)
	pos := uint64(0)
	apply := func(account string, e domain.Event) error {
		pos++
		rec := eventstore.Record{Position: eventstore.At(pos), Event: eventstore.Event{ID: "evt", Type: e.EventType(), Meta: eventstore.Meta{Account: account, Time: time.Now()}}}
		return store.Update(ctx, p.Name(), func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			return rec.Position, p.Apply(ctx, tx, projections.Envelope{Event: e, Record: rec})
		})
	}
	for _, e := range []domain.Event{
		account.AccountOpened{Account: "acme", Organization: "ACME"},
		account.AccountOpened{Account: "rentco", Organization: "RentCo"},
		partnership.PartnerRequested{Partnership: "acme+rentco", Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor,
			Notify: []domain.UserID{"gone@rentco.test", "bob@rentco.test"}, By: "alice@acme.test"},
		team.CloudProjectCreated{Project: "p1", Name: "Bridge", By: "alice@acme.test"},
		team.MemberInvited{Project: "p1", Email: "gone@rentco.test", Role: team.User, By: "alice@acme.test"},
	} {
		if err := apply("acme", e); err != nil {
			t.Fatalf("%s: %v", e.EventType(), err)
		}
	}
	if len(mailer.sent) != 1 || mailer.sent[0] != "bob@rentco.test" {
		t.Fatalf("sent to %v", mailer.sent)
	}
	status := map[string]notify.Notification{}
	err := store.View(ctx, func(r projections.Reader) error {
		return r.Scan(ctx, notify.Table, projections.Page{Prefix: "acme/"}, func(_ string, doc []byte) error {
			var n notify.Notification
			err := json.Unmarshal(doc, &n)
			status[string(n.To)+" "+n.Subject] = n
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != 3 {
		t.Fatalf("outbox: %+v", status)
	}
	for k, n := range status {
		want := "sent"
		if n.To == "gone@rentco.test" {
			want = "failed"
		}
		if n.Status != want || (want == "failed") != (n.Failure != "") {
			t.Errorf("%s: %+v", k, n)
		}
	}
	err = apply("acme", team.MemberInvited{Project: "p1", Email: "busy@rentco.test", Role: team.User, By: "alice@acme.test"})
	if !projections.IsTransient(err) {
		t.Fatalf("a temporary refusal: %v, want a transient error", err)
	}
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 451 {
		t.Fatalf("the server's answer is lost: %v", err)
	}
}

type counting struct{ sent []string }

func (c *counting) Send(_ context.Context, m notify.Mail) error {
	c.sent = append(c.sent, m.To)
	return nil
}

// TestMailsPerPersonAndDayAreCapped: the notifier sends at most PerDay
// mails caused by one person on one day (UTC, by the events' times), and
// records the rest as limited; others, and the next day, are not held back.
func TestMailsPerPersonAndDayAreCapped(t *testing.T) {
	ctx := context.Background()
	mailer := &counting{}
	p := notify.Projection{Mailer: mailer, Now: time.Now, PerDay: 2}
	store := memory.New(nil)
	day1 := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Hour)
	tests := []struct {
		by     string
		at     time.Time
		to     string
		status string
	}{
		{"alice@acme.test", day1, "a1@x.test", "sent"},
		{"alice@acme.test", day1, "a2@x.test", "sent"},
		{"alice@acme.test", day1, "a3@x.test", "limited"},
		{"bob@acme.test", day1, "b1@x.test", "sent"},
		{"alice@acme.test", day2, "a4@x.test", "sent"},
	}
	apply := func(pos uint64, user string, at time.Time, e domain.Event) {
		rec := eventstore.Record{Position: eventstore.At(pos), Event: eventstore.Event{ID: "evt-" + user, Type: e.EventType(), Meta: eventstore.Meta{Account: "acme", User: user, Time: at}}}
		err := store.Update(ctx, p.Name(), func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			return rec.Position, p.Apply(ctx, tx, projections.Envelope{Event: e, Record: rec})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	apply(1, "alice@acme.test", day1, team.CloudProjectCreated{Project: "p1", Name: "Bridge", By: "alice@acme.test"})
	for i, tt := range tests {
		apply(uint64(i+2), tt.by, tt.at, team.MemberInvited{Project: "p1", Email: domain.UserID(tt.to), Role: team.User, By: domain.UserID(tt.by)})
	}
	got := map[domain.UserID]notify.Notification{}
	err := store.View(ctx, func(r projections.Reader) error {
		return r.Scan(ctx, notify.Table, projections.Page{Prefix: "acme/"}, func(_ string, doc []byte) error {
			var n notify.Notification
			err := json.Unmarshal(doc, &n)
			got[n.To] = n
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		n := got[domain.UserID(tt.to)]
		if n.Status != tt.status || (tt.status == "limited") != (n.Failure != "") {
			t.Errorf("mail to %s caused by %s: %+v, want status %s", tt.to, tt.by, n, tt.status)
		}
	}
	if len(mailer.sent) != 4 {
		t.Errorf("sent %v, want the four within the limit", mailer.sent)
	}
}
