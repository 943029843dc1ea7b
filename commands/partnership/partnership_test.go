package partnership_test

import (
	"context"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	partnershipcmd "github.com/shareledger/shareledger/commands/partnership"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
)

var (
	pid      = partnership.IDOf("acme", "rentco")
	pstream  = partnership.Stream("acme", "rentco")
	accounts = append(commandtest.In(account.Stream("acme"),
		account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
		account.ProjectCreated{Account: "acme", Project: "bridge", Name: "Bridge"}),
		commandtest.In(account.Stream("rentco"),
			account.AccountOpened{Account: "rentco", Organization: "RentCo", Administrator: "bob@rentco.test", Name: "Bob"},
			account.UserAdded{Account: "rentco", User: "dora@rentco.test", Name: "Dora", Role: account.User})...)
	requested = partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, Notify: []domain.UserID{}, By: "alice@acme.test"}
	approved  = partnership.PartnerApproved{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"}
	pending   = commandtest.In(pstream, requested)
	partners  = commandtest.In(pstream, requested, approved)
	rover     = commandtest.In(device.Stream("rover"), device.DeviceRegistered{Device: "rover", Owner: "rentco", Serial: "S1", Name: "Rover"})
	shared    = commandtest.In(pstream,
		partnership.DeviceSharedWithPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"},
		device.DeviceAssignedToProject{Device: "rover", Account: "acme", Project: "bridge"})
	alice = commandtest.Meta("alice@acme.test", "acme", "c1")
	bob   = commandtest.Meta("bob@rentco.test", "rentco", "c1")
	dora  = commandtest.Meta("dora@rentco.test", "rentco", "c1")
)

func given(g ...[]commandtest.Given) [][]commandtest.Given { return g }

func TestRequest(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Request]{
		{Name: "an administrator asks another account by its organization name, in any case", Given: given(accounts),
			When: partnershipcmd.Request{Meta: alice, Organization: "rentco", Type: "Rental", Notify: []string{"Bob@RentCo.test"}, Message: "Hello"},
			Then: commandtest.Events(partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor,
				Notify: []domain.UserID{"bob@rentco.test"}, Message: "Hello", By: "alice@acme.test"})},
		{Name: "one request at a time", Given: given(accounts, pending), When: partnershipcmd.Request{Meta: alice, Organization: "RentCo", Type: "rental"}, Code: "already-requested"},
		{Name: "not again once partners", Given: given(accounts, partners), When: partnershipcmd.Request{Meta: alice, Organization: "RentCo", Type: "rental"}, Code: "already-partners"},
		{Name: "not with itself", Given: given(accounts), When: partnershipcmd.Request{Meta: alice, Organization: "ACME", Type: "rental"}, Code: "self-partnership"},
		{Name: "an unknown partner type", Given: given(accounts), When: partnershipcmd.Request{Meta: alice, Organization: "RentCo", Type: "friend"}, Code: "invalid-partner-type"},
		{Name: "a user may not ask", Given: given(accounts), When: partnershipcmd.Request{Meta: dora, Organization: "ACME", Type: "rental"}, Code: "not-administrator"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Request] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Request
	})
}

func TestDecide(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Decide]{
		{Name: "the partner approves", Given: given(accounts, pending), When: partnershipcmd.Decide{Meta: bob, Organization: "ACME", Decision: partnershipcmd.Approve},
			Then: commandtest.Events(approved)},
		{Name: "the partner declines", Given: given(accounts, pending), When: partnershipcmd.Decide{Meta: bob, Organization: "ACME", Decision: partnershipcmd.Decline},
			Then: commandtest.Events(partnership.PartnerDeclined{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"})},
		{Name: "the requester withdraws", Given: given(accounts, pending), When: partnershipcmd.Decide{Meta: alice, Organization: "RentCo", Decision: partnershipcmd.Withdraw},
			Then: commandtest.Events(partnership.PartnerRequestWithdrawn{Partnership: pid, Requester: "acme", Partner: "rentco", By: "alice@acme.test"})},
		{Name: "the requester may not approve its own request", Given: given(accounts, pending), When: partnershipcmd.Decide{Meta: alice, Organization: "RentCo", Decision: partnershipcmd.Approve},
			Code: "own-request"},
		{Name: "nothing to approve", Given: given(accounts), When: partnershipcmd.Decide{Meta: bob, Organization: "ACME", Decision: partnershipcmd.Approve}, Code: "not-pending"},
		{Name: "ending takes the shared devices back, out of the partner's projects", Given: given(accounts, partners, rover, shared),
			When: partnershipcmd.Decide{Meta: bob, Organization: "ACME", Decision: partnershipcmd.End},
			Then: commandtest.Events(
				device.DeviceUnassignedFromProject{Device: "rover", Account: "acme", Project: "bridge", Reason: device.ReasonPartnershipEnded},
				partnership.DeviceUnsharedFromPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", Reason: device.ReasonPartnershipEnded},
				partnership.PartnershipEnded{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"})},
		{Name: "only approved partnerships end", Given: given(accounts, pending), When: partnershipcmd.Decide{Meta: bob, Organization: "ACME", Decision: partnershipcmd.End}, Code: "not-approved"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Decide] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Decide
	})
}

func TestShareAndUnshare(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Share]{
		{Name: "the owner shares its device with its partner", Given: given(accounts, partners, rover),
			When: partnershipcmd.Share{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}},
			Then: commandtest.Events(partnership.DeviceSharedWithPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"})},
		{Name: "another account's device is unknown", Given: given(accounts, partners, rover),
			When: partnershipcmd.Share{Meta: alice, Organization: "RentCo", Devices: []device.ID{"rover"}}, Code: "unknown-device"},
		{Name: "only with an approved partner", Given: given(accounts, pending, rover),
			When: partnershipcmd.Share{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}}, Code: "not-approved"},
		{Name: "a device is shared once", Given: given(accounts, partners, rover, shared),
			When: partnershipcmd.Share{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}}, Code: "already-shared"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Share] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Share
	})
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Unshare]{
		{Name: "unsharing takes the device out of the partner's projects", Given: given(accounts, partners, rover, shared),
			When: partnershipcmd.Unshare{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}},
			Then: commandtest.Events(
				device.DeviceUnassignedFromProject{Device: "rover", Account: "acme", Project: "bridge", Reason: device.ReasonUnshared},
				partnership.DeviceUnsharedFromPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", Reason: device.ReasonUnshared})},
		{Name: "only what is shared", Given: given(accounts, partners, rover),
			When: partnershipcmd.Unshare{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}}, Code: "not-shared"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Unshare] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Unshare
	})
}

var deleted = commandtest.In(device.Stream("rover"), device.DeviceDeleted{Device: "rover", Owner: "rentco", By: "bob@rentco.test"})

func TestRelease(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Release]{
		{Name: "a partnership releases a deleted device, out of the partner's projects", Given: given(accounts, partners, rover, shared, deleted),
			When: partnershipcmd.Release{Meta: bob, Partner: "acme", Device: "rover"},
			Then: commandtest.Events(
				device.DeviceUnassignedFromProject{Device: "rover", Account: "acme", Project: "bridge", Reason: device.ReasonDeviceDeleted},
				partnership.DeviceUnsharedFromPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", Reason: device.ReasonDeviceDeleted}),
			Into: pstream},
		{Name: "a device released already changes nothing", Given: given(accounts, partners, rover, deleted),
			When: partnershipcmd.Release{Meta: bob, Partner: "acme", Device: "rover"}},
		{Name: "a device that is not deleted is not released", Given: given(accounts, partners, rover, shared),
			When: partnershipcmd.Release{Meta: bob, Partner: "acme", Device: "rover"}, Code: "unknown-device"},
		{Name: "only for the owner's account", Given: given(accounts, partners, rover, shared, deleted),
			When: partnershipcmd.Release{Meta: alice, Partner: "rentco", Device: "rover"}, Code: "unknown-device"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Release] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Release
	})
	commandtest.Run(t, []commandtest.Case[partnershipcmd.Share]{
		{Name: "a deleted device cannot be shared", Given: given(accounts, partners, rover, deleted),
			When: partnershipcmd.Share{Meta: bob, Organization: "ACME", Devices: []device.ID{"rover"}}, Code: "unknown-device"},
	}, func(env commandtest.Env) commands.Handler[partnershipcmd.Share] {
		return partnershipcmd.New(env.Repo, env.Log, nil).Share
	})
}

// The releaser sends each owed release on behalf of whoever deleted the
// device, under the deletion's correlation id, and a release owed twice
// (the projection not caught up yet, a restart) is appended once; a share
// that raced the deletion is owed a release of its own.
func TestReleaserSettlesEachDebtOnce(t *testing.T) {
	ctx := context.Background()
	env := commandtest.NewEnv(t)
	commandtest.Seed(t, env, accounts, partners, rover, shared, deleted)
	owed := []partnershipcmd.Owed{{Device: "rover", Owner: "rentco", Partner: "acme", By: "bob@rentco.test", Cause: "deletion-1", Correlation: "corr-1"}}
	r := partnershipcmd.Releaser{
		Release: partnershipcmd.New(env.Repo, env.Log, nil).Release,
		Owed:    func(context.Context, int) ([]partnershipcmd.Owed, error) { return owed, nil },
		Now:     func() time.Time { return time.Unix(1_800_000_000, 0) },
		Log:     env.Log,
	}
	unshares := func() (n int) {
		recs, err := env.Repo.Events.ReadStream(ctx, pstream, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.Type == "DeviceUnsharedFromPartner" {
				n++
				if rec.Meta.User != "bob@rentco.test" || rec.Meta.Account != "rentco" || rec.Meta.CorrelationID != "corr-1" {
					t.Fatalf("release recorded as %+v", rec.Meta)
				}
			}
		}
		return n
	}
	for range 2 {
		if err := r.Once(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := unshares(); n != 1 {
		t.Fatalf("%d releases after the same debt twice, want 1", n)
	}
	// A share that raced the deletion (appended as if decided before it).
	commandtest.Seed(t, env, commandtest.In(pstream,
		partnership.DeviceSharedWithPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"}))
	owed[0].Cause = "late-share-1"
	if err := r.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if n := unshares(); n != 2 {
		t.Fatalf("%d releases after a share raced the deletion, want 2", n)
	}
}
