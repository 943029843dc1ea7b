package device_test

import (
	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

func newRepo(es eventstore.Store, reg *domain.Registry) commands.Repo {
	return commands.Repo{Events: es, Registry: reg, Cache: commands.NewStateCache(64 << 20)}
}
