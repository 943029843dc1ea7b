package device

import (
	"maps"

	"github.com/shareledger/shareledger/domain"
)

// Empty is the state of a device stream before its first event.
func Empty() *Device { return &Device{} }

// Replay brings a loaded device up to date with stored events.
func (d *Device) Replay(events ...domain.Event) { domain.Replay(d.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (d *Device) Clone() *Device {
	c := *d
	c.use, c.changes = d.use.Clone(), nil
	return &c
}

// Footprint estimates the device's memory in bytes.
func (d *Device) Footprint() int64 { return 128 + d.use.Footprint() }

// Clone is a copy of the usage.
func (u Use) Clone() Use { return Use{projects: maps.Clone(u.projects)} }

// Footprint estimates the usage's memory in bytes.
func (u Use) Footprint() int64 { return 64 * int64(len(u.projects)) }
