package team_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/shareledger/shareledger/commands/commandtest"
	teamcmd "github.com/shareledger/shareledger/commands/team"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
)

// BenchmarkRenameJobGrowth renames a job, over and over, in a cloud
// project whose stream already holds n events (earlier renames): the
// state stays the same size while the history grows. Warm by default;
// SHARELEDGER_BENCH_COLD=N as for the rights benchmark.
//
//	go test -run '^$' -bench RenameJobGrowth -benchtime 2000x ./commands/team/
func BenchmarkRenameJobGrowth(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			env := commandtest.Coldness(commandtest.NewEnv(b), os.Getenv("SHARELEDGER_BENCH_COLD"))
			commandtest.Seed(b, env, people, bridge, survey)
			commandtest.SeedMany(b, env, stream, n, func(i int) domain.Event {
				return team.JobUpdated{Project: "p1", Job: "j1", Name: fmt.Sprint("Survey ", i), By: "ulla@crew.test"}
			})
			h := handlers(env)
			ctx := context.Background()
			commandtest.Latencies(b, func(i int) error {
				_, err := h.RenameJob.Handle(ctx, teamcmd.RenameJob{Meta: commandtest.Meta("ulla@crew.test", "crew", fmt.Sprint("r", i)), Project: "p1", Job: "j1", Name: fmt.Sprint("Day ", i)})
				return err
			})
		})
	}
}
