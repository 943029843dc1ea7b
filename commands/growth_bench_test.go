package commands_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	rightscmd "github.com/shareledger/shareledger/commands/rights"
	teamcmd "github.com/shareledger/shareledger/commands/team"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/domain/team"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// growth is a command repeated on a stream whose state stays the same size
// while its history grows: the stream, the events before it, the i-th
// event of its history (an even number of them leaves the toggled thing
// held), and the command with its id, told whether the thing it toggles
// is held now.
type growth struct {
	name   string
	given  [][]commandtest.Given
	stream string
	event  func(i int) domain.Event
	run    func(ctx context.Context, env commandtest.Env, id string, held bool) error
	// heldAfter says whether n events leave the toggled thing held (nil:
	// an even number does).
	heldAfter func(n int) bool
}

var (
	pid      = partnership.IDOf("acme", "rentco")
	growthOf = []growth{
		{
			// A device-sharing command: the partner puts a shared device
			// into its project and takes it out again, on the pair's
			// partnership stream.
			name: "assign a shared device (partnership stream)",
			given: [][]commandtest.Given{
				commandtest.In(account.Stream("rentco"), account.AccountOpened{Account: "rentco", Organization: "RentCo", Administrator: "bob@rentco.test", Name: "Bob"}),
				commandtest.In(account.Stream("acme"), account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
					account.ProjectCreated{Account: "acme", Project: "site", Name: "Site"}),
				commandtest.In(device.Stream("d1"), device.DeviceRegistered{Device: "d1", Owner: "rentco", Serial: "S1", Name: "Rover"}),
			},
			stream: partnership.Stream("acme", "rentco"),
			event: func(i int) domain.Event {
				switch {
				case i == 0:
					return partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, By: "alice@acme.test"}
				case i == 1:
					return partnership.PartnerApproved{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"}
				case i == 2:
					return partnership.DeviceSharedWithPartner{Partnership: pid, Device: "d1", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"}
				case i%2 == 1:
					return device.DeviceAssignedToProject{Device: "d1", Account: "acme", Project: "site"}
				}
				return device.DeviceUnassignedFromProject{Device: "d1", Account: "acme", Project: "site", Reason: device.ReasonUnassigned}
			},
			run: func(ctx context.Context, env commandtest.Env, id string, held bool) error {
				h := devicecmd.New(env.Repo, env.Log)
				c := devicecmd.Assign{Meta: fresh(commandtest.Meta("alice@acme.test", "acme", id)), Device: "d1", Project: "site"}
				if held {
					_, err := h.Unassign.Handle(ctx, devicecmd.Unassign(c))
					return err
				}
				_, err := h.Assign.Handle(ctx, c)
				return err
			},
		},
		{
			name: "grant a role (access stream)",
			given: [][]commandtest.Given{commandtest.In(account.Stream("acme"),
				account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
				account.UserAdded{Account: "acme", User: "ann@acme.test", Name: "Ann", Role: account.User})},
			stream: rights.AccessStream("acme"),
			event: func(i int) domain.Event {
				switch {
				case i == 0:
					return rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}}
				case i%2 == 1:
					return rights.RoleAssigned{Account: "acme", User: "ann@acme.test", Role: "viewer"}
				}
				return rights.RoleUnassigned{Account: "acme", User: "ann@acme.test", Role: "viewer"}
			},
			run: func(ctx context.Context, env commandtest.Env, id string, held bool) error {
				h := rightscmd.New(env.Repo, env.Log)
				m := fresh(commandtest.Meta("alice@acme.test", "acme", id))
				if held {
					_, err := h.RevokeRole.Handle(ctx, rightscmd.RevokeRole{Meta: m, Subuser: "ann@acme.test", Role: "viewer"})
					return err
				}
				_, err := h.GrantRole.Handle(ctx, rightscmd.GrantRole{Meta: m, Subuser: "ann@acme.test", Role: "viewer"})
				return err
			},
		},
		{
			name: "rename a job (cloud project stream)",
			given: [][]commandtest.Given{
				commandtest.In(team.IdentityStream("ada@crew.test"), team.IdentityCreated{Email: "ada@crew.test", Name: "Ada"}),
				commandtest.In(team.IdentityStream("ulla@crew.test"), team.IdentityCreated{Email: "ulla@crew.test", Name: "Ulla"}),
			},
			stream: team.Stream("p1"),
			event: func(i int) domain.Event {
				switch i {
				case 0:
					return team.CloudProjectCreated{Project: "p1", Name: "Bridge", By: "ada@crew.test"}
				case 1:
					return team.MemberInvited{Project: "p1", Email: "ulla@crew.test", Role: team.User, Active: true, By: "ada@crew.test"}
				case 2:
					return team.JobCreated{Project: "p1", Job: "j1", Name: "Survey", By: "ulla@crew.test"}
				case 3:
					return team.JobAssigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ulla@crew.test"}
				}
				return team.JobUpdated{Project: "p1", Job: "j1", Name: fmt.Sprint("Survey ", i), By: "ulla@crew.test"}
			},
			run: func(ctx context.Context, env commandtest.Env, id string, _ bool) error {
				h := teamcmd.New(env.Repo, env.Log, nil)
				_, err := h.RenameJob.Handle(ctx, teamcmd.RenameJob{Meta: fresh(commandtest.Meta("ulla@crew.test", "crew", id)), Project: "p1", Job: "j1", Name: "Day " + id})
				return err
			},
		},
	}
)

// fresh marks a command as one sent without an Idempotency-Key, as the
// service does (its id, "c" and a number, is used once per process); with
// SHARELEDGER_GROWTH_KEYED=1, as one sent with a key (the same number),
// which the load looks up.
func fresh(m commands.Meta) commands.Meta {
	if os.Getenv("SHARELEDGER_GROWTH_KEYED") == "1" {
		m.IdempotencyKey = m.CommandID
		return m
	}
	m.Fresh = true
	return m
}

// seeded keeps each (command, n) history made once per process (the
// benchmark function runs more than once, and a million events take a
// while to write), with whether its toggled thing is held; sent numbers
// the commands, so that none is taken for one sent before.
var (
	seeded = map[string]string{}
	held   = map[string]bool{}
	sent   int
)

// BenchmarkGrowth: the median and 99th percentile of a device-sharing, a
// rights and a team command repeated on a stream that already holds n
// events, side by side in one run, warm (states cached) and cold (the
// store reopened as after a restart, nothing cached, a snapshot every
// 1,000 events as the service's default). The store is compacted after
// the history is written, as Pebble would do over time, so that the
// figures are the command's and not a bulk load's compaction debt. Each
// command uses a fresh handler, so that no state carries over but the
// repository's.
//
//	go test -run '^$' -bench Growth -benchtime 2000x -timeout 60m ./commands/
//
// SHARELEDGER_GROWTH_EVENTS lists the sizes (default 1000,100000,1000000).
func BenchmarkGrowth(b *testing.B) {
	growthIn(b, growthOf, sizes(b, "SHARELEDGER_GROWTH_EVENTS", 1_000, 100_000, 1_000_000))
}

// BenchmarkStateGrowth: as BenchmarkGrowth, for commands on a stream
// whose state grows with its history (stateGrowthOf): a command must not
// cost more as its aggregate holds more, which copying the aggregate's
// state for every command did.
//
//	go test -run '^$' -bench StateGrowth -benchtime 2000x -timeout 60m ./commands/
//
// SHARELEDGER_STATE_GROWTH_EVENTS lists the sizes (default 1000,10000,100000).
func BenchmarkStateGrowth(b *testing.B) {
	growthIn(b, stateGrowthOf, sizes(b, "SHARELEDGER_STATE_GROWTH_EVENTS", 1_000, 10_000, 100_000))
}

// sizes are the sizes the variable env lists, or else the defaults.
func sizes(b *testing.B, env string, defaults ...int) []int {
	v := os.Getenv(env)
	if v == "" {
		return defaults
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// growthIn runs each command of list on streams of each size, warm and
// cold.
func growthIn(b *testing.B, list []growth, sizes []int) {
	root := b.TempDir() // lives as long as every run of the sub-benchmarks
	for _, g := range list {
		for _, n := range sizes {
			for _, mode := range []string{"warm", "cold"} {
				b.Run(fmt.Sprintf("%s/events=%d/%s", g.name, n, mode), func(b *testing.B) {
					ctx := context.Background()
					key := fmt.Sprint(g.name, n)
					dir, ok := seeded[key]
					if !ok {
						dir = fmt.Sprintf("%s/%d", root, len(seeded))
						env := commandtest.OpenEnv(b, dir)
						commandtest.Seed(b, env, g.given...)
						commandtest.SeedMany(b, env, g.stream, n, g.event)
						if err := env.Repo.Events.(*eventpebble.Store).Compact(ctx); err != nil {
							b.Fatal(err)
						}
						env.Repo.Events.Close()
						seeded[key], held[key] = dir, n%2 == 0
						if g.heldAfter != nil {
							held[key] = g.heldAfter(n)
						}
					}
					run := func(env commandtest.Env) error {
						sent++
						if err := g.run(ctx, env, fmt.Sprint("c", sent), held[key]); err != nil {
							return err
						}
						held[key] = !held[key]
						return nil
					}
					env := commandtest.OpenEnv(b, dir)
					defer env.Repo.Events.Close()
					env.Repo.SnapshotEvery = 1000
					env.Repo.Cache = commands.NewStateCache(64 << 20) // the service's default
					if mode == "cold" {
						// Fold once so the stream has its snapshot, as a
						// service that ran before the restart left it.
						if err := run(env); err != nil {
							b.Fatal(err)
						}
						env.Repo.Cache = commands.NewStateCache(0)
					}
					commandtest.Latencies(b, func(int) error { return run(env) })
				})
			}
		}
	}
}

// stateGrowthOf are commands repeated on a stream whose state grows with
// its history: a fleet that holds one more vehicle for every event, as a
// large customer's fleets do over the years.
var stateGrowthOf = []growth{
	{
		name: "add and remove a fleet's vehicle (collection stream)",
		given: [][]commandtest.Given{commandtest.In(account.Stream("acme"),
			account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"})},
		stream: rights.CollectionStream("fleet"),
		event: func(i int) domain.Event {
			if i == 0 {
				return rights.CollectionCreated{Account: "acme", Item: "fleet", Kind: rights.Fleet, Name: "Rovers", Public: true, Creator: "alice@acme.test"}
			}
			return rights.MemberAdded{Account: "acme", Item: "fleet", Member: rights.MemberID(fmt.Sprint("vehicle-", i)), Kind: rights.Vehicle}
		},
		run: func(ctx context.Context, env commandtest.Env, id string, added bool) error {
			h := rightscmd.New(env.Repo, env.Log)
			m := fresh(commandtest.Meta("alice@acme.test", "acme", id))
			if added {
				_, err := h.RemoveCollectionMember.Handle(ctx, rightscmd.RemoveCollectionMember{Meta: m, Item: "fleet", Member: "extra"})
				return err
			}
			_, err := h.AddCollectionMember.Handle(ctx, rightscmd.AddCollectionMember{Meta: m, Item: "fleet", Member: "extra", Kind: rights.Vehicle})
			return err
		},
		heldAfter: func(int) bool { return false },
	},
}
