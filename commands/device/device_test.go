package device_test

import (
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
)

var (
	pid      = partnership.IDOf("acme", "rentco")
	pstream  = partnership.Stream("acme", "rentco")
	accounts = append(commandtest.In(account.Stream("acme"),
		account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
		account.ProjectCreated{Account: "acme", Project: "bridge", Name: "Bridge"}),
		commandtest.In(account.Stream("rentco"),
			account.AccountOpened{Account: "rentco", Organization: "RentCo", Administrator: "bob@rentco.test", Name: "Bob"},
			account.ProjectCreated{Account: "rentco", Project: "yard", Name: "Yard"})...)
	rover  = commandtest.In(device.Stream("rover"), device.DeviceRegistered{Device: "rover", Owner: "rentco", Serial: "S1", Name: "Rover"})
	inYard = commandtest.In(device.Stream("rover"), device.DeviceAssignedToProject{Device: "rover", Account: "rentco", Project: "yard"})
	shared = commandtest.In(pstream,
		partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, By: "alice@acme.test"},
		partnership.PartnerApproved{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"},
		partnership.DeviceSharedWithPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"})
	onBridge = commandtest.In(pstream, device.DeviceAssignedToProject{Device: "rover", Account: "acme", Project: "bridge"})
	unshared = commandtest.In(pstream,
		device.DeviceUnassignedFromProject{Device: "rover", Account: "acme", Project: "bridge", Reason: device.ReasonUnshared},
		partnership.DeviceUnsharedFromPartner{Partnership: pid, Device: "rover", Owner: "rentco", Partner: "acme", Reason: device.ReasonUnshared})
	alice = commandtest.Meta("alice@acme.test", "acme", "c1")
	bob   = commandtest.Meta("bob@rentco.test", "rentco", "c1")
)

func given(g ...[]commandtest.Given) [][]commandtest.Given { return g }

func handlers(env commandtest.Env) devicecmd.Handlers { return devicecmd.New(env.Repo, env.Log) }

func TestRegister(t *testing.T) {
	id := device.ID(commands.NewID("c1", "device"))
	commandtest.Run(t, []commandtest.Case[devicecmd.Register]{
		{Name: "a member registers a device of its account, with its credentials", Given: given(accounts),
			When: devicecmd.Register{Meta: bob, Serial: "S9", Name: "Drone", Model: "D1", Credentials: "login"},
			Then: commandtest.Events(device.DeviceRegistered{Device: id, Owner: "rentco", Serial: "S9", Name: "Drone", Model: "D1", Credentials: "login"})},
		{Name: "a device needs a serial", Given: given(accounts), When: devicecmd.Register{Meta: bob, Serial: "", Name: "Drone"}, Code: "missing-serial"},
		{Name: "someone of no account", When: devicecmd.Register{Meta: bob, Serial: "S9", Name: "Drone"}, Code: "not-member"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.Register] { return handlers(env).Register })
}

func TestAssign(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[devicecmd.Assign]{
		{Name: "the owner assigns its device to its project", Given: given(accounts, rover),
			When: devicecmd.Assign{Meta: bob, Device: "rover", Project: "yard"},
			Then: commandtest.Events(device.DeviceAssignedToProject{Device: "rover", Account: "rentco", Project: "yard"})},
		{Name: "the partner assigns a shared device to its own project, in the partnership", Given: given(accounts, rover, shared),
			When: devicecmd.Assign{Meta: alice, Device: "rover", Project: "bridge"},
			Then: commandtest.Events(device.DeviceAssignedToProject{Device: "rover", Account: "acme", Project: "bridge"})},
		{Name: "a device not shared with the caller is unknown", Given: given(accounts, rover),
			When: devicecmd.Assign{Meta: alice, Device: "rover", Project: "bridge"}, Code: "unknown-device"},
		{Name: "only the caller's own projects", Given: given(accounts, rover),
			When: devicecmd.Assign{Meta: bob, Device: "rover", Project: "bridge"}, Code: "unknown-project"},
		{Name: "once per project", Given: given(accounts, rover, inYard),
			When: devicecmd.Assign{Meta: bob, Device: "rover", Project: "yard"}, Code: "already-assigned"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.Assign] { return handlers(env).Assign })
}

func TestUnassign(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[devicecmd.Unassign]{
		{Name: "the owner takes its device out of its project", Given: given(accounts, rover, inYard),
			When: devicecmd.Unassign{Meta: bob, Device: "rover", Project: "yard"},
			Then: commandtest.Events(device.DeviceUnassignedFromProject{Device: "rover", Account: "rentco", Project: "yard", Reason: device.ReasonUnassigned})},
		{Name: "not assigned", Given: given(accounts, rover), When: devicecmd.Unassign{Meta: bob, Device: "rover", Project: "yard"}, Code: "not-assigned"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.Unassign] { return handlers(env).Unassign })
}

func TestSendDesign(t *testing.T) {
	sent := device.DesignSentToDevice{Device: "rover", Account: "acme", Project: "bridge", Design: "deck.dxf", By: "alice@acme.test"}
	commandtest.Run(t, []commandtest.Case[devicecmd.SendDesign]{
		{Name: "data transfer to a shared device works, recorded in the pair's transfers of that device", Given: given(accounts, rover, shared, onBridge),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: "deck.dxf"},
			Then: commandtest.Events(sent), Into: partnership.TransferStream("acme", "rentco", "rover")},
		{Name: "the owner's own transfers stay in the device's stream", Given: given(accounts, rover, inYard),
			When: devicecmd.SendDesign{Meta: bob, Device: "rover", Project: "yard", Design: "deck.dxf"},
			Then: commandtest.Events(device.DesignSentToDevice{Device: "rover", Account: "rentco", Project: "yard", Design: "deck.dxf", By: "bob@rentco.test"}), Into: device.Stream("rover")},
		{Name: "not to a device unshared since", Given: given(accounts, rover, shared, onBridge, unshared),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: "deck.dxf"}, Code: "unknown-device"},
		{Name: "only to a device working in the project", Given: given(accounts, rover, shared),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: "deck.dxf"}, Code: "not-assigned"},
		{Name: "a design needs a name", Given: given(accounts, rover, shared, onBridge),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: ""}, Code: "missing-design"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.SendDesign] { return handlers(env).SendDesign })
	// A store that cannot guard an append (EventStoreDB) gets the
	// transfer in the partnership's stream.
	commandtest.Run(t, []commandtest.Case[devicecmd.SendDesign]{
		{Name: "on a store without guards, in the partnership", Given: given(accounts, rover, shared, onBridge),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: "deck.dxf"},
			Then: commandtest.Events(sent), Into: pstream},
	}, func(env commandtest.Env) commands.Handler[devicecmd.SendDesign] {
		env.Repo.Events = unguarded{env.Repo.Events}
		return handlers(env).SendDesign
	})
}

// unguarded hides a store's guarded appends, as EventStoreDB has none.
type unguarded struct{ eventstore.Store }

func TestStartBaseStation(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[devicecmd.StartBaseStation]{
		{Name: "the owner starts the base-station service", Given: given(accounts, rover, inYard),
			When: devicecmd.StartBaseStation{Meta: bob, Device: "rover", Project: "yard"},
			Then: commandtest.Events(device.BaseStationServiceStarted{Device: "rover", Account: "rentco", Project: "yard", By: "bob@rentco.test"})},
		{Name: "not on a shared device", Given: given(accounts, rover, shared, onBridge),
			When: devicecmd.StartBaseStation{Meta: alice, Device: "rover", Project: "bridge"}, Code: "ibss-not-supported-for-shared-device"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.StartBaseStation] {
		return handlers(env).StartBaseStation
	})
}

func TestDelete(t *testing.T) {
	deleted := commandtest.In(device.Stream("rover"), device.DeviceDeleted{Device: "rover", Owner: "rentco", By: "bob@rentco.test"})
	commandtest.Run(t, []commandtest.Case[devicecmd.Delete]{
		{Name: "the owner's administrator deletes a device; it leaves the owner's projects first", Given: given(accounts, rover, inYard),
			When: devicecmd.Delete{Meta: bob, Device: "rover"},
			Then: commandtest.Events(
				device.DeviceUnassignedFromProject{Device: "rover", Account: "rentco", Project: "yard", Reason: device.ReasonDeviceDeleted},
				device.DeviceDeleted{Device: "rover", Owner: "rentco", By: "bob@rentco.test"}),
			Into: device.Stream("rover")},
		{Name: "a shared device is deleted on its own stream; the partnerships release it afterwards", Given: given(accounts, rover, shared, onBridge),
			When: devicecmd.Delete{Meta: bob, Device: "rover"},
			Then: commandtest.Events(device.DeviceDeleted{Device: "rover", Owner: "rentco", By: "bob@rentco.test"}),
			Into: device.Stream("rover")},
		{Name: "a partner may not delete a device shared with it", Given: given(accounts, rover, shared),
			When: devicecmd.Delete{Meta: alice, Device: "rover"}, Code: "not-device-owner"},
		{Name: "another account's device is unknown", Given: given(accounts, rover),
			When: devicecmd.Delete{Meta: alice, Device: "rover"}, Code: "unknown-device"},
		{Name: "a deleted device cannot be deleted again", Given: given(accounts, rover, deleted),
			When: devicecmd.Delete{Meta: commandtest.Meta("bob@rentco.test", "rentco", "c2"), Device: "rover"}, Code: "unknown-device"},
		{Name: "no such device", Given: given(accounts), When: devicecmd.Delete{Meta: bob, Device: "ghost"}, Code: "unknown-device"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.Delete] { return handlers(env).Delete })
}

// Once deleted, a device is gone for its owner and for its partners, whose
// partnership still shares it until the release.
func TestADeletedDeviceIsGone(t *testing.T) {
	deleted := commandtest.In(device.Stream("rover"), device.DeviceDeleted{Device: "rover", Owner: "rentco", By: "bob@rentco.test"})
	commandtest.Run(t, []commandtest.Case[devicecmd.Assign]{
		{Name: "the owner", Given: given(accounts, rover, deleted),
			When: devicecmd.Assign{Meta: bob, Device: "rover", Project: "yard"}, Code: "unknown-device"},
		{Name: "a partner", Given: given(accounts, rover, shared, deleted),
			When: devicecmd.Assign{Meta: alice, Device: "rover", Project: "bridge"}, Code: "unknown-device"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.Assign] { return handlers(env).Assign })
	commandtest.Run(t, []commandtest.Case[devicecmd.SendDesign]{
		{Name: "a design to it from a partner", Given: given(accounts, rover, shared, onBridge, deleted),
			When: devicecmd.SendDesign{Meta: alice, Device: "rover", Project: "bridge", Design: "d.ttm"}, Code: "unknown-device"},
	}, func(env commandtest.Env) commands.Handler[devicecmd.SendDesign] { return handlers(env).SendDesign })
}
