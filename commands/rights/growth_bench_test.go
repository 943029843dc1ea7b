package rights_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/shareledger/shareledger/commands/commandtest"
	rightscmd "github.com/shareledger/shareledger/commands/rights"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// BenchmarkGrantRoleGrowth grants a role to a subuser and takes it back,
// over and over, on an account's access stream that already holds n
// events (earlier grants and revocations): the state stays the same size
// while the history grows. Warm (states cached) by default; with
// SHARELEDGER_BENCH_COLD=N nothing is cached and snapshots are taken every
// N events, as after a restart.
//
//	go test -run '^$' -bench GrantRoleGrowth -benchtime 2000x ./commands/rights/
func BenchmarkGrantRoleGrowth(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			env := commandtest.Coldness(commandtest.NewEnv(b), os.Getenv("SHARELEDGER_BENCH_COLD"))
			commandtest.Seed(b, env, acme)
			commandtest.SeedMany(b, env, rights.AccessStream("acme"), n, func(i int) domain.Event {
				switch {
				case i == 0:
					return rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}}
				case i%2 == 1:
					return rights.RoleAssigned{Account: "acme", User: "ann@acme.test", Role: "viewer"}
				}
				return rights.RoleUnassigned{Account: "acme", User: "ann@acme.test", Role: "viewer"}
			})
			h := handlers(env)
			held := n%2 == 0 // after n events, the last one assigned the role when n is even
			ctx := context.Background()
			commandtest.Latencies(b, func(i int) error {
				m := commandtest.Meta("alice@acme.test", "acme", fmt.Sprint("g", i))
				var err error
				if held {
					_, err = h.RevokeRole.Handle(ctx, rightscmd.RevokeRole{Meta: m, Subuser: "ann@acme.test", Role: "viewer"})
				} else {
					_, err = h.GrantRole.Handle(ctx, rightscmd.GrantRole{Meta: m, Subuser: "ann@acme.test", Role: "viewer"})
				}
				held = !held
				return err
			})
		})
	}
}
