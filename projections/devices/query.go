package devices

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/projections"
)

// Query reads My Devices: how the read side asks this projection, so that
// its tables and keys stay its own.
type Query struct{ R projections.Reader }

// Mine is a page of the devices an account sees (source "own" or
// "shared-in"; "" for both), after the cursor in page.After, and the cursor
// of the next page.
func (q Query) Mine(ctx context.Context, acc domain.AccountID, source string, page projections.Page) ([]Device, string, error) {
	page = projections.Within(string(acc)+"/", page)
	return projections.List(ctx, q.R, Table, page, func(d *Device) bool { return source == "" || d.Source == source })
}

// One is a device as an account sees it, if it sees it.
func (q Query) One(ctx context.Context, acc domain.AccountID, id device.ID) (Device, bool, error) {
	var d Device
	found, err := q.R.Get(ctx, Table, Key(acc, id), &d)
	return d, found, err
}

// Releases is a page of the releases partnerships owe deleted devices, and
// the cursor of the next page.
func (q Query) Releases(ctx context.Context, page projections.Page) ([]Release, string, error) {
	return projections.List(ctx, q.R, Releases, page, func(*Release) bool { return true })
}
