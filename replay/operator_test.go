package replay_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/partners"
	"github.com/shareledger/shareledger/replay"
)

// The blue/green component chooses projections by name and refuses what
// it cannot do before starting anything.
func TestBlueGreenChoosesAndRefuses(t *testing.T) {
	bg := &replay.BlueGreen{All: []replay.Tabled{devices.Projection{}, partners.Projection{}}}
	cases := []struct {
		names []string
		want  string
		code  string
	}{
		{nil, "[devices partners]", ""},
		{[]string{partners.Name}, "[partners]", ""},
		{[]string{"nope"}, "", "unknown-projection"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.names), func(t *testing.T) {
			got, err := bg.Choose(c.names)
			var de *domain.Error
			if c.code != "" {
				if !errors.As(err, &de) || de.Code != c.code {
					t.Fatalf("error %v, want %s", err, c.code)
				}
				return
			}
			if err != nil || fmt.Sprint(replay.Names(got)) != c.want {
				t.Fatalf("chose %v, %v; want %s", replay.Names(got), err, c.want)
			}
		})
	}
	if _, err := bg.Rebuild(nil); err == nil {
		t.Fatal("a background rebuild started before the service serves")
	}
}
