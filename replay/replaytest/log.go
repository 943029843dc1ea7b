// Package replaytest generates event logs that touch every projection, for
// the tests and benchmarks of replays, rebuilds and point-in-time answers.
package replaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
)

// Spec shapes a generated log.
type Spec struct {
	// Pairs of companies: a rental firm and a builder, partnered.
	Pairs int
	// Devices each rental firm shares with its builder; every fourth is
	// unshared again at the end of the pair's history.
	Devices int
	// Start is when the first event is recorded; each next one Step later.
	Start time.Time
	Step  time.Duration
	// FirstPair numbers the first pair, to append more pairs to a log.
	FirstPair int
}

// EventsPerPair is how many events one pair of companies makes with d
// devices.
func EventsPerPair(d int) int { return 19 + 6*d + (d+3)/4 }

// Generator appends generated events, numbering them and stepping their
// time across calls.
type Generator struct {
	Events eventstore.Store
	Start  time.Time
	Step   time.Duration
	n      int
	Head   eventstore.Position
}

// Now is the time the next event will be recorded at.
func (g *Generator) Now() time.Time { return g.Start.Add(time.Duration(g.n) * g.Step) }

// Count is how many events the generator appended.
func (g *Generator) Count() int { return g.n }

func (g *Generator) add(ctx context.Context, stream string, acc domain.AccountID, evs ...domain.Event) error {
	batch := make([]eventstore.Event, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("00000000-0000-4000-9000-%012d", g.n)
		batch[i] = eventstore.Event{ID: id, Type: e.EventType(), Version: e.EventVersion(), Data: data,
			Meta: eventstore.Meta{User: "admin@" + string(acc) + ".test", Account: string(acc), CommandID: id, CorrelationID: id, Time: g.Now().UTC()}}
		g.n++
	}
	res, err := g.Events.Append(ctx, stream, eventstore.Any(), batch...)
	if err != nil {
		return fmt.Errorf("append to %s: %w", stream, err)
	}
	g.Head = res.Position
	return nil
}

// Pair appends the history of pair p: two accounts with users and
// projects, a rental partnership, devices shared and assigned and designs
// sent, fleets (one public, one private) with vehicles and subuser rights,
// and a cloud project team with a job; then a quarter of the devices are
// unshared again.
func (g *Generator) Pair(ctx context.Context, p, devices int) error {
	owner, partner := domain.AccountID(fmt.Sprintf("rent%d", p)), domain.AccountID(fmt.Sprintf("build%d", p))
	pid := partnership.IDOf(owner, partner)
	admin := func(a domain.AccountID) domain.UserID { return domain.UserID("admin@" + string(a) + ".test") }
	sub := func(a domain.AccountID) domain.UserID { return domain.UserID("crew@" + string(a) + ".test") }
	for _, acc := range []domain.AccountID{owner, partner} {
		if err := g.add(ctx, account.Stream(acc), acc,
			account.AccountOpened{Account: acc, Organization: string(acc), Administrator: admin(acc), Name: "Admin"},
			account.UserAdded{Account: acc, User: sub(acc), Name: "Crew", Role: account.User},
			account.ProjectCreated{Account: acc, Project: "site", Name: "Site"}); err != nil {
			return err
		}
	}
	if err := g.add(ctx, partnership.Stream(owner, partner), partner,
		partnership.PartnerRequested{Partnership: pid, Requester: partner, Partner: owner, Type: partnership.Rental, RequesterType: partnership.Contractor, By: admin(partner), Message: "rovers for the bridge"},
		partnership.PartnerApproved{Partnership: pid, Requester: partner, Partner: owner, By: admin(owner)}); err != nil {
		return err
	}
	fleet, private := rights.ItemID(fmt.Sprintf("fleet-%d", p)), rights.ItemID(fmt.Sprintf("private-%d", p))
	if err := g.add(ctx, "rights-"+string(owner), owner,
		rights.RoleDefined{Account: owner, Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View, Member: rights.View}}},
		rights.RoleAssigned{Account: owner, User: sub(owner), Role: "viewer"},
		rights.CollectionCreated{Account: owner, Item: fleet, Kind: rights.Fleet, Name: "Rovers", Public: true, Creator: admin(owner)},
		rights.CollectionCreated{Account: owner, Item: private, Kind: rights.Fleet, Name: "Spares", Public: true, Creator: admin(owner)},
		rights.FleetMadePrivate{Account: owner, Item: private, By: admin(owner)},
		rights.SharedPrivately{Account: owner, Item: private, User: sub(owner), Rights: rights.Rights{Item: rights.Edit, Member: rights.Full}, By: admin(owner)}); err != nil {
		return err
	}
	project := team.ID(fmt.Sprintf("bridge-%d", p))
	if err := g.add(ctx, team.Stream(project), partner,
		team.CloudProjectCreated{Project: project, Name: "Bridge", By: admin(partner)},
		team.MemberInvited{Project: project, Email: admin(partner), Role: team.Administrator, Active: true, By: admin(partner)},
		team.MemberInvited{Project: project, Email: sub(partner), Role: team.User, Active: true, By: admin(partner)},
		team.JobCreated{Project: project, Job: "deck", Name: "Deck", By: admin(partner)},
		team.JobAssigned{Project: project, Job: "deck", Email: sub(partner), By: admin(partner)}); err != nil {
		return err
	}
	for d := range devices {
		id := device.ID(fmt.Sprintf("dev-%d-%d", p, d))
		if err := g.add(ctx, device.Stream(id), owner, device.DeviceRegistered{Device: id, Owner: owner, Serial: string(id), Name: "Rover", Credentials: "login"}); err != nil {
			return err
		}
		if err := g.add(ctx, partnership.Stream(owner, partner), owner,
			partnership.DeviceSharedWithPartner{Partnership: pid, Device: id, Owner: owner, Partner: partner, By: admin(owner)},
			device.DeviceAssignedToProject{Device: id, Account: partner, Project: "site"},
			device.DesignSentToDevice{Device: id, Account: partner, Project: "site", Design: "deck.dxf", By: sub(partner)}); err != nil {
			return err
		}
		coll := fleet
		if d%2 == 1 {
			coll = private
		}
		if err := g.add(ctx, "rights-"+string(owner), owner,
			rights.MemberAdded{Account: owner, Item: coll, Member: rights.MemberID(id), Kind: rights.Vehicle},
			rights.MemberAdded{Account: owner, Item: coll, Member: rights.MemberID("driver-" + string(id)), Kind: rights.Driver}); err != nil {
			return err
		}
	}
	for d := 0; d < devices; d += 4 {
		id := device.ID(fmt.Sprintf("dev-%d-%d", p, d))
		if err := g.add(ctx, partnership.Stream(owner, partner), owner,
			partnership.DeviceUnsharedFromPartner{Partnership: pid, Device: id, Owner: owner, Partner: partner, Reason: "returned"}); err != nil {
			return err
		}
	}
	return nil
}

// Log appends spec's whole log and returns its generator.
func Log(ctx context.Context, es eventstore.Store, spec Spec) (*Generator, error) {
	g := &Generator{Events: es, Start: spec.Start, Step: spec.Step}
	for p := range spec.Pairs {
		if err := g.Pair(ctx, spec.FirstPair+p, spec.Devices); err != nil {
			return g, err
		}
	}
	return g, nil
}
