package team_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/memory"
	teammodel "github.com/shareledger/shareledger/projections/team"
)

// TestTeamTabAgreesWithTheDecisions: for random sequences of team
// commands, every member's role and status on the Team tab equals what the
// decisions hold (with what they learn of identities, as the command
// handler tells them), so a rule like "the last administrator cannot
// leave" never contradicts what the tab shows.
func TestTeamTabAgreesWithTheDecisions(t *testing.T) {
	people := []domain.UserID{"a@t.test", "b@t.test", "c@t.test", "d@t.test", "e@t.test"}
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 7))
			ctx := context.Background()
			store := memory.New(nil)
			pos := uint64(0)
			apply := func(evs ...domain.Event) {
				t.Helper()
				for _, e := range evs {
					pos++
					rec := eventstore.Record{Position: eventstore.At(pos), Event: eventstore.Event{Type: e.EventType(), Meta: eventstore.Meta{Time: time.Unix(int64(pos), 0)}}}
					err := store.Update(ctx, teammodel.Name, func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
						return rec.Position, teammodel.Projection{}.Apply(ctx, tx, projections.Envelope{Event: e, Record: rec})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			identity := map[domain.UserID]bool{people[0]: true}
			apply(team.IdentityCreated{Email: people[0], Name: "A"})
			p, err := team.Create(team.Caller{Email: people[0], HasIdentity: true}, "p1", "Bridge")
			if err != nil {
				t.Fatal(err)
			}
			history := p.Changes()
			apply(history...)
			// load is what the handler does: the history, then who of the
			// invited administrators has an identity by now.
			load := func() *team.Project {
				p := team.FromHistory(history)
				for _, a := range p.PendingAdministrators() {
					if identity[a] {
						p.Joined(a)
					}
				}
				return p
			}
			roles := []team.Role{team.User, team.Administrator}
			var trace []string
			for range 40 {
				by := people[rnd.IntN(len(people))]
				other := people[rnd.IntN(len(people))]
				caller := team.Caller{Email: by, HasIdentity: identity[by]}
				p := load()
				var err error
				switch op := rnd.IntN(5); op {
				case 0:
					_, err = p.Invite(caller, team.Invitation{Email: other, Role: roles[rnd.IntN(2)], HasIdentity: identity[other]})
				case 1:
					err = p.ChangeRole(caller, other, roles[rnd.IntN(2)])
				case 2:
					err = p.Remove(caller, other)
				case 3:
					err = p.Leave(caller)
				case 4:
					if !identity[by] {
						identity[by] = true
						apply(team.IdentityCreated{Email: by, Name: string(by)})
						trace = append(trace, "identity "+string(by))
					}
					continue
				}
				if err != nil {
					continue
				}
				for _, e := range p.Changes() {
					trace = append(trace, fmt.Sprintf("%s %+v", e.EventType(), e))
				}
				history = append(history, p.Changes()...)
				apply(p.Changes()...)

				// The decisions' view: every invited person with an
				// identity is active, as IdentityCreated makes them.
				want := team.FromHistory(history)
				for _, m := range want.Members() {
					if m.Status == team.Invited && identity[m.Email] {
						want.Joined(m.Email)
					}
				}
				activeAdmins := 0
				for _, m := range want.Members() {
					if m.Role == team.Administrator && m.Status == team.Active {
						activeAdmins++
					}
				}
				for _, m := range want.Members() {
					if m.Role == team.Administrator && m.Status == team.Active && activeAdmins > 1 {
						if err := load().Leave(team.Caller{Email: m.Email, HasIdentity: true}); errors.Is(err, team.ErrLastAdministrator) {
							t.Fatalf("the tab shows %d active administrators, yet %s may not leave as the last\n%v", activeAdmins, m.Email, trace)
						}
					}
					var got teammodel.Member
					err := store.View(ctx, func(r projections.Reader) error {
						_, err := r.Get(ctx, teammodel.Members, projections.Key("p1", string(m.Email)), &got)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if got.Role != m.Role.String() || got.Status != string(m.Status) {
						t.Fatalf("%s: the decisions hold %s %s, the Team tab shows %s %s\n%v", m.Email, m.Role, m.Status, got.Role, got.Status, trace)
					}
				}
			}
		})
	}
}
