package partnership_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
)

var (
	acmeAdmin = domain.Member{User: "alice@acme.test", Account: "acme", Admin: true}
	acmeUser  = domain.Member{User: "carl@acme.test", Account: "acme"}
	rentAdmin = domain.Member{User: "bob@rentco.test", Account: "rentco", Admin: true}
	rentUser  = domain.Member{User: "dora@rentco.test", Account: "rentco"}
	named     = domain.Member{User: "nina@rentco.test", Account: "rentco"}
	outsider  = domain.Member{User: "eve@other.test", Account: "other", Admin: true}
	id        = partnership.IDOf("acme", "rentco")
)

// Given events, for the acme (requester) and rentco (partner) pair.
func requested(notify ...domain.UserID) partnership.PartnerRequested {
	return partnership.PartnerRequested{Partnership: id, Requester: "acme", Partner: "rentco", Type: partnership.Contractor, RequesterType: partnership.Subcontractor, Notify: notify, By: acmeAdmin.User}
}

var (
	approved   = partnership.PartnerApproved{Partnership: id, Requester: "acme", Partner: "rentco", By: rentAdmin.User}
	declined   = partnership.PartnerDeclined{Partnership: id, Requester: "acme", Partner: "rentco", By: rentAdmin.User}
	ended      = partnership.PartnershipEnded{Partnership: id, Requester: "acme", Partner: "rentco", By: rentAdmin.User}
	rentShares = partnership.DeviceSharedWithPartner{Partnership: id, Device: "dev-1", Owner: "rentco", Partner: "acme", By: rentAdmin.User}
	acmeUses   = device.DeviceAssignedToProject{Device: "dev-1", Account: "acme", Project: "bridge"}
)

// acme's account, with its project "bridge"; rentco's with "yard".
func acme() *account.Account {
	return account.FromHistory([]domain.Event{
		account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: acmeAdmin.User, Name: "Alice"},
		account.ProjectCreated{Account: "acme", Project: "bridge", Name: "Bridge"},
	})
}

func TestPartnership(t *testing.T) {
	cases := []struct {
		name  string
		given []domain.Event
		when  func(p *partnership.Partnership) error
		then  []domain.Event
		err   error
	}{
		{
			name: "request names people to notify",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Contractor, partnership.Type{}, []domain.UserID{named.User}, "")
			},
			then: []domain.Event{requested(named.User)},
		},
		{
			name: "the requester says what it is to the partner: a rental agency asking a contractor",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Contractor, partnership.Rental, nil, "")
			},
			then: []domain.Event{partnership.PartnerRequested{Partnership: id, Requester: "acme", Partner: "rentco", Type: partnership.Contractor, RequesterType: partnership.Rental, By: acmeAdmin.User}},
		},
		{
			name: "without saying, a rental agency's customer is its contractor",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Rental, partnership.Type{}, nil, "")
			},
			then: []domain.Event{partnership.PartnerRequested{Partnership: id, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, By: acmeAdmin.User}},
		},
		{
			name: "two rental agencies are no partnership the product knows",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Rental, partnership.Rental, nil, "")
			},
			err: partnership.ErrPartnerTypes,
		},
		{
			name: "a subcontractor's partner is its contractor",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Subcontractor, partnership.Rental, nil, "")
			},
			err: partnership.ErrPartnerTypes,
		},
		{
			name: "request with nobody to notify is still sent",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Contractor, partnership.Type{}, nil, "")
			},
			then: []domain.Event{requested()},
		},
		{
			name: "an account cannot partner with itself",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "acme", partnership.Rental, partnership.Type{}, nil, "")
			},
			err: partnership.ErrSelf,
		},
		{
			name: "only administrators request",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeUser, "rentco", partnership.Rental, partnership.Type{}, nil, "")
			},
			err: domain.ErrNotAdministrator,
		},
		{
			name: "a partner type is required",
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Type{}, partnership.Type{}, nil, "")
			},
			err: domain.Invalidf("invalid-partner-type", ""),
		},
		{
			name:  "no second request while one is pending",
			given: []domain.Event{requested()},
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Rental, partnership.Type{}, nil, "")
			},
			err: partnership.ErrAlreadyRequested,
		},
		{
			name:  "no crossing request while one is pending",
			given: []domain.Event{requested()},
			when: func(p *partnership.Partnership) error {
				return p.Request(rentAdmin, "acme", partnership.Rental, partnership.Type{}, nil, "")
			},
			err: partnership.ErrAlreadyRequested,
		},
		{
			name:  "no request between partners",
			given: []domain.Event{requested(), approved},
			when: func(p *partnership.Partnership) error {
				return p.Request(rentAdmin, "acme", partnership.Rental, partnership.Type{}, nil, "")
			},
			err: partnership.ErrAlreadyPartners,
		},
		{
			name:  "ask again after a decline",
			given: []domain.Event{requested(), declined},
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Contractor, partnership.Type{}, nil, "")
			},
			then: []domain.Event{requested()},
		},
		{
			name:  "ask again after the partnership ended",
			given: []domain.Event{requested(), approved, ended},
			when: func(p *partnership.Partnership) error {
				return p.Request(acmeAdmin, "rentco", partnership.Contractor, partnership.Type{}, nil, "")
			},
			then: []domain.Event{requested()},
		},
		{
			name:  "with nobody named anyone at the partner approves",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Approve(rentUser) },
			then:  []domain.Event{partnership.PartnerApproved{Partnership: id, Requester: "acme", Partner: "rentco", By: rentUser.User}},
		},
		{
			name:  "a named person approves",
			given: []domain.Event{requested(named.User)},
			when:  func(p *partnership.Partnership) error { return p.Approve(named) },
			then:  []domain.Event{partnership.PartnerApproved{Partnership: id, Requester: "acme", Partner: "rentco", By: named.User}},
		},
		{
			name:  "the partner's administrator approves though not named",
			given: []domain.Event{requested(named.User)},
			when:  func(p *partnership.Partnership) error { return p.Approve(rentAdmin) },
			then:  []domain.Event{approved},
		},
		{
			name:  "a plain user who was not named cannot approve",
			given: []domain.Event{requested(named.User)},
			when:  func(p *partnership.Partnership) error { return p.Approve(rentUser) },
			err:   partnership.ErrNotApprover,
		},
		{
			name:  "the requester cannot approve its own request",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Approve(acmeAdmin) },
			err:   partnership.ErrOwnRequest,
		},
		{
			name:  "a third account cannot approve",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Approve(outsider) },
			err:   partnership.ErrNotPartner,
		},
		{
			name: "nothing to approve without a request",
			when: func(p *partnership.Partnership) error { return p.Approve(rentAdmin) },
			err:  partnership.ErrNotPending,
		},
		{
			name:  "decline a pending request",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Decline(rentAdmin) },
			then:  []domain.Event{declined},
		},
		{
			name:  "the requester withdraws",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Withdraw(acmeAdmin) },
			then:  []domain.Event{partnership.PartnerRequestWithdrawn{Partnership: id, Requester: "acme", Partner: "rentco", By: acmeAdmin.User}},
		},
		{
			name:  "the partner cannot withdraw",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.Withdraw(rentAdmin) },
			err:   partnership.ErrNotRequester,
		},
		{
			name:  "nothing to withdraw once approved",
			given: []domain.Event{requested(), approved},
			when:  func(p *partnership.Partnership) error { return p.Withdraw(acmeAdmin) },
			err:   partnership.ErrNotPending,
		},
		{
			name:  "share devices with an approved partner",
			given: []domain.Event{requested(), approved},
			when: func(p *partnership.Partnership) error {
				return p.Share(rentAdmin, []partnership.Owned{{ID: "dev-1", Owner: "rentco"}, {ID: "dev-2", Owner: "rentco"}})
			},
			then: []domain.Event{rentShares, partnership.DeviceSharedWithPartner{Partnership: id, Device: "dev-2", Owner: "rentco", Partner: "acme", By: rentAdmin.User}},
		},
		{
			name:  "the requester may share too",
			given: []domain.Event{requested(), approved},
			when: func(p *partnership.Partnership) error {
				return p.Share(acmeAdmin, []partnership.Owned{{ID: "dev-9", Owner: "acme"}})
			},
			then: []domain.Event{partnership.DeviceSharedWithPartner{Partnership: id, Device: "dev-9", Owner: "acme", Partner: "rentco", By: acmeAdmin.User}},
		},
		{
			name:  "no sharing before approval",
			given: []domain.Event{requested()},
			when: func(p *partnership.Partnership) error {
				return p.Share(rentAdmin, []partnership.Owned{{ID: "dev-1", Owner: "rentco"}})
			},
			err: partnership.ErrNotApproved,
		},
		{
			name:  "only the owner shares a device",
			given: []domain.Event{requested(), approved},
			when: func(p *partnership.Partnership) error {
				return p.Share(rentAdmin, []partnership.Owned{{ID: "dev-9", Owner: "acme"}})
			},
			err: device.ErrNotOwner,
		},
		{
			name:  "a device is shared once",
			given: []domain.Event{requested(), approved, rentShares},
			when: func(p *partnership.Partnership) error {
				return p.Share(rentAdmin, []partnership.Owned{{ID: "dev-1", Owner: "rentco"}})
			},
			err: partnership.ErrAlreadyShared,
		},
		{
			name:  "sharing needs a device",
			given: []domain.Event{requested(), approved},
			when:  func(p *partnership.Partnership) error { return p.Share(rentAdmin, nil) },
			err:   partnership.ErrNoDevices,
		},
		{
			name:  "only administrators share",
			given: []domain.Event{requested(), approved},
			when: func(p *partnership.Partnership) error {
				return p.Share(rentUser, []partnership.Owned{{ID: "dev-1", Owner: "rentco"}})
			},
			err: domain.ErrNotAdministrator,
		},
		{
			name:  "the partner assigns a shared device to its own project",
			given: []domain.Event{requested(), approved, rentShares},
			when:  func(p *partnership.Partnership) error { return p.Assign(acmeUser, acme(), "dev-1", "bridge") },
			then:  []domain.Event{acmeUses},
		},
		{
			name:  "only to a project of its own",
			given: []domain.Event{requested(), approved, rentShares},
			when:  func(p *partnership.Partnership) error { return p.Assign(acmeUser, acme(), "dev-1", "yard") },
			err:   account.ErrUnknownProject,
		},
		{
			name:  "a device not shared cannot be assigned",
			given: []domain.Event{requested(), approved},
			when:  func(p *partnership.Partnership) error { return p.Assign(acmeUser, acme(), "dev-1", "bridge") },
			err:   partnership.ErrNotShared,
		},
		{
			name:  "a design goes to a shared device in the partner's project",
			given: []domain.Event{requested(), approved, rentShares, acmeUses},
			when:  func(p *partnership.Partnership) error { return p.SendDesign(acmeUser, "dev-1", "bridge", "deck.dxf") },
			then:  []domain.Event{device.DesignSentToDevice{Device: "dev-1", Account: "acme", Project: "bridge", Design: "deck.dxf", By: acmeUser.User}},
		},
		{
			name:  "a design needs the device in the project",
			given: []domain.Event{requested(), approved, rentShares},
			when:  func(p *partnership.Partnership) error { return p.SendDesign(acmeUser, "dev-1", "bridge", "deck.dxf") },
			err:   device.ErrNotAssigned,
		},
		{
			name:  "IBSS is refused on a shared device",
			given: []domain.Event{requested(), approved, rentShares, acmeUses},
			when:  func(p *partnership.Partnership) error { return p.StartBaseStation(acmeUser, "dev-1") },
			err:   partnership.ErrBaseStationShared,
		},
		{
			name:  "unsharing takes the device out of the partner's projects",
			given: []domain.Event{requested(), approved, rentShares, acmeUses},
			when:  func(p *partnership.Partnership) error { return p.Unshare(rentAdmin, []device.ID{"dev-1"}) },
			then: []domain.Event{
				device.DeviceUnassignedFromProject{Device: "dev-1", Account: "acme", Project: "bridge", Reason: device.ReasonUnshared},
				partnership.DeviceUnsharedFromPartner{Partnership: id, Device: "dev-1", Owner: "rentco", Partner: "acme", Reason: device.ReasonUnshared},
			},
		},
		{
			name:  "the partner cannot unshare the owner's device",
			given: []domain.Event{requested(), approved, rentShares},
			when:  func(p *partnership.Partnership) error { return p.Unshare(acmeAdmin, []device.ID{"dev-1"}) },
			err:   partnership.ErrNotShared,
		},
		{
			name:  "ending takes every shared device back",
			given: []domain.Event{requested(), approved, rentShares, acmeUses},
			when:  func(p *partnership.Partnership) error { return p.End(acmeAdmin) },
			then: []domain.Event{
				device.DeviceUnassignedFromProject{Device: "dev-1", Account: "acme", Project: "bridge", Reason: device.ReasonPartnershipEnded},
				partnership.DeviceUnsharedFromPartner{Partnership: id, Device: "dev-1", Owner: "rentco", Partner: "acme", Reason: device.ReasonPartnershipEnded},
				partnership.PartnershipEnded{Partnership: id, Requester: "acme", Partner: "rentco", By: acmeAdmin.User},
			},
		},
		{
			name:  "only an approved partnership ends",
			given: []domain.Event{requested()},
			when:  func(p *partnership.Partnership) error { return p.End(rentAdmin) },
			err:   partnership.ErrNotApproved,
		},
		{
			name:  "a third account cannot end it",
			given: []domain.Event{requested(), approved},
			when:  func(p *partnership.Partnership) error { return p.End(outsider) },
			err:   partnership.ErrNotPartner,
		},
		{
			name:  "after the end a shared device is no longer usable",
			given: []domain.Event{requested(), approved, rentShares, ended},
			when:  func(p *partnership.Partnership) error { return p.Assign(acmeUser, acme(), "dev-1", "bridge") },
			err:   partnership.ErrNotShared,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := partnership.FromHistory("acme", "rentco", c.given)
			err := c.when(p)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				if len(p.Changes()) != 0 {
					t.Fatalf("a refused command recorded %v", p.Changes())
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(p.Changes(), c.then) {
				t.Fatalf("events =\n%#v\nwant\n%#v", p.Changes(), c.then)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	cases := []struct {
		in   string
		want partnership.Type
		ok   bool
	}{
		{"rental", partnership.Rental, true},
		{"Subcontractor", partnership.Subcontractor, true},
		{"CONTRACTOR", partnership.Contractor, true},
		{"landlord", partnership.Type{}, false},
		{"", partnership.Type{}, false},
	}
	for _, c := range cases {
		got, err := partnership.ParseType(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseType(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestIDIsTheSameWhoeverAsks(t *testing.T) {
	if partnership.IDOf("a", "b") != partnership.IDOf("b", "a") {
		t.Fatal("IDOf depends on the order of its accounts")
	}
}

// TestACloneSharesNothing: decisions on a clone (a handler's copy of a
// cached state) leave the original as it was, and a clone decides as the
// original would.
func TestACloneSharesNothing(t *testing.T) {
	original := partnership.FromHistory("acme", "rentco", []domain.Event{requested(), approved, rentShares, acmeUses})
	before := original.Clone()
	dup := original.Clone()
	if !reflect.DeepEqual(dup, before) {
		t.Fatal("a clone differs from its original")
	}
	if err := dup.Unshare(rentAdmin, []device.ID{"dev-1"}); err != nil {
		t.Fatal(err)
	}
	dup.Replay(partnership.DeviceSharedWithPartner{Partnership: id, Device: "dev-2", Owner: "rentco", Partner: "acme", By: rentAdmin.User},
		device.DeviceAssignedToProject{Device: "dev-2", Account: "acme", Project: "bridge"})
	if !reflect.DeepEqual(original.Clone(), before) {
		t.Fatal("decisions on a clone changed the original")
	}
	if err := original.SendDesign(acmeAdmin, "dev-1", "bridge", "deck.dxf"); err != nil {
		t.Fatalf("the original lost its shared device: %v", err)
	}
}
