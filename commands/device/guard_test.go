package device_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	partnershipcmd "github.com/shareledger/shareledger/commands/partnership"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
)

// conflicts counts the guarded appends that lose a race.
type conflicts struct {
	eventstore.Store
	guarded eventstore.Guarded
	lost    atomic.Int64
}

func (c *conflicts) AppendGuarded(ctx context.Context, stream string, exp eventstore.Expected, g eventstore.Guard, events ...eventstore.Event) (eventstore.AppendResult, error) {
	res, err := c.guarded.AppendGuarded(ctx, stream, exp, g, events...)
	if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		c.lost.Add(1)
	}
	return res, err
}

// Designs sent to a shared device by many clients at once, in two
// processes (two repositories with their own caches and locks on one
// log), while the owner takes the device back: every transfer that went
// through comes before the device was unshared, in the log's order, and
// none after. In one process, transfers hold the partnership's lock
// shared, so they wait only for the commands that change it.
func TestNoDesignOvertakesTheUnsharing(t *testing.T) {
	for _, processes := range []int{1, 2} {
		t.Run(fmt.Sprint(processes, " processes"), func(t *testing.T) {
			ctx := context.Background()
			env := commandtest.NewEnv(t)
			commandtest.Seed(t, env, accounts, rover, shared, onBridge)
			store := &conflicts{Store: env.Repo.Events, guarded: env.Repo.Events.(eventstore.Guarded)}
			var sends []devicecmd.Handlers
			var unshare partnershipcmd.Handlers
			for i := range processes {
				repo := env.Repo
				repo.Events, repo.Cache, repo.Locks = store, commands.NewStateCache(1<<20), commands.NewStreamLocks()
				sends = append(sends, devicecmd.New(repo, env.Log))
				if i == processes-1 {
					unshare = partnershipcmd.New(repo, env.Log, nil)
				}
			}
			const clients, each = 16, 20
			var wg sync.WaitGroup
			var sent atomic.Int64
			quarter, once := make(chan struct{}), sync.Once{}
			for c := range clients {
				wg.Go(func() {
					for i := range each {
						m := commandtest.Meta("alice@acme.test", "acme", fmt.Sprintf("send-%d-%d", c, i))
						_, err := sends[c%processes].SendDesign.Handle(ctx, devicecmd.SendDesign{Meta: m, Device: "rover", Project: "bridge", Design: "deck.dxf"})
						switch {
						case err == nil:
							if sent.Add(1) >= clients*each/4 {
								once.Do(func() { close(quarter) })
							}
						case errors.Is(err, device.ErrUnknownDevice):
						default:
							t.Errorf("send: %v", err)
						}
					}
				})
			}
			wg.Go(func() {
				<-quarter // let a quarter of the transfers through first
				if _, err := unshare.Unshare.Handle(ctx, partnershipcmd.Unshare{Meta: bob, Organization: "acme", Devices: []device.ID{"rover"}}); err != nil {
					t.Errorf("unshare: %v", err)
				}
			})
			wg.Wait()
			recs, err := env.Repo.Events.ReadAll(ctx, eventstore.Position{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			unsharedAt, designs := -1, 0
			for i, r := range recs {
				switch r.Type {
				case "DeviceUnsharedFromPartner":
					unsharedAt = i
				case "DesignSentToDevice":
					designs++
					if r.Stream != partnership.TransferStream("acme", "rentco", "rover") {
						t.Fatalf("a transfer went to %s", r.Stream)
					}
					if unsharedAt >= 0 {
						t.Fatalf("a design reached the device after it was unshared (log entry %d, unshared at %d)", i, unsharedAt)
					}
				}
			}
			if unsharedAt < 0 || int64(designs) != sent.Load() || designs < clients*each/4 {
				t.Fatalf("unshared at %d, %d designs in the log, %d answered as sent", unsharedAt, designs, sent.Load())
			}
			t.Logf("%d designs sent before the unsharing, %d guarded appends lost a race", designs, store.lost.Load())
			if processes == 1 && store.lost.Load() != 0 {
				t.Fatalf("in one process %d guarded appends lost a race: transfers should wait for the unsharing", store.lost.Load())
			}
		})
	}
}
