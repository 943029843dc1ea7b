// Package catalog lists every event type ShareLedger stores, so that start-up
// code and tests build the same registry.
package catalog

import (
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/domain/team"
)

// New returns a registry of every stored event type and its upcasters.
func New() *domain.Registry {
	r := domain.NewRegistry()
	account.RegisterEvents(r)
	device.RegisterEvents(r)
	partnership.RegisterEvents(r)
	rights.RegisterEvents(r)
	team.RegisterEvents(r)
	return r
}
