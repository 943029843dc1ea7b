package device_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
)

var (
	admin      = domain.Member{User: "bob@rentco.test", Account: "rentco", Admin: true}
	user       = domain.Member{User: "dora@rentco.test", Account: "rentco"}
	stranger   = domain.Member{User: "alice@acme.test", Account: "acme", Admin: true}
	registered = device.DeviceRegistered{Device: "dev-1", Owner: "rentco", Serial: "SN1", Name: "Rover", Credentials: "tcc-user"}
	assigned   = device.DeviceAssignedToProject{Device: "dev-1", Account: "rentco", Project: "yard"}
)

func rentco() *account.Account {
	return account.FromHistory([]domain.Event{
		account.AccountOpened{Account: "rentco", Organization: "RentCo", Administrator: admin.User, Name: "Bob"},
		account.ProjectCreated{Account: "rentco", Project: "yard", Name: "Yard"},
	})
}

func TestRegister(t *testing.T) {
	cases := []struct {
		name   string
		by     domain.Member
		serial string
		dname  string
		err    error
	}{
		{"an administrator registers", admin, "SN1", "Rover", nil},
		{"a plain user cannot", user, "SN1", "Rover", domain.ErrNotAdministrator},
		{"a serial is required", admin, " ", "Rover", domain.Invalidf("missing-serial", "")},
		{"a name is required", admin, "SN1", "", domain.Invalidf("missing-name", "")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := device.Register(c.by, "dev-1", c.serial, c.dname, "", "tcc-user")
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Changes(), []domain.Event{registered}) {
				t.Fatalf("events = %#v", d.Changes())
			}
		})
	}
}

func TestOwnersUse(t *testing.T) {
	cases := []struct {
		name  string
		given []domain.Event
		when  func(d *device.Device) error
		then  []domain.Event
		err   error
	}{
		{
			name: "assign to an own project",
			when: func(d *device.Device) error { return d.Assign(user, rentco(), "yard") },
			then: []domain.Event{assigned},
		},
		{
			name:  "not twice",
			given: []domain.Event{assigned},
			when:  func(d *device.Device) error { return d.Assign(user, rentco(), "yard") },
			err:   device.ErrAlreadyAssigned,
		},
		{
			name: "not to a project the account lacks",
			when: func(d *device.Device) error { return d.Assign(user, rentco(), "elsewhere") },
			err:  account.ErrUnknownProject,
		},
		{
			name: "another account cannot use the device this way",
			when: func(d *device.Device) error { return d.Assign(stranger, rentco(), "yard") },
			err:  device.ErrNotOwner,
		},
		{
			name:  "unassign",
			given: []domain.Event{assigned},
			when:  func(d *device.Device) error { return d.Unassign(user, "yard") },
			then:  []domain.Event{device.DeviceUnassignedFromProject{Device: "dev-1", Account: "rentco", Project: "yard", Reason: device.ReasonUnassigned}},
		},
		{
			name: "unassign what is not assigned",
			when: func(d *device.Device) error { return d.Unassign(user, "yard") },
			err:  device.ErrNotAssigned,
		},
		{
			name:  "send a design",
			given: []domain.Event{assigned},
			when:  func(d *device.Device) error { return d.SendDesign(user, "yard", "plan.dxf") },
			then:  []domain.Event{device.DesignSentToDevice{Device: "dev-1", Account: "rentco", Project: "yard", Design: "plan.dxf", By: user.User}},
		},
		{
			name:  "a design needs a name",
			given: []domain.Event{assigned},
			when:  func(d *device.Device) error { return d.SendDesign(user, "yard", "") },
			err:   domain.Invalidf("missing-design", ""),
		},
		{
			name:  "the owner starts IBSS",
			given: []domain.Event{assigned},
			when:  func(d *device.Device) error { return d.StartBaseStation(user, "yard") },
			then:  []domain.Event{device.BaseStationServiceStarted{Device: "dev-1", Account: "rentco", Project: "yard", By: user.User}},
		},
		{
			name: "IBSS needs the device in the project",
			when: func(d *device.Device) error { return d.StartBaseStation(user, "yard") },
			err:  device.ErrNotAssigned,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := device.FromHistory(append([]domain.Event{registered}, c.given...))
			err := c.when(d)
			if c.err != nil {
				if !errors.Is(err, c.err) || len(d.Changes()) != 0 {
					t.Fatalf("err = %v (changes %v), want %v and no changes", err, d.Changes(), c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Changes(), c.then) {
				t.Fatalf("events = %#v, want %#v", d.Changes(), c.then)
			}
		})
	}
}
