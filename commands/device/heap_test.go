package device_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// TestHeapStaysFlatOverManyCommands runs SHARELEDGER_HEAP_COMMANDS
// commands through the handlers (each registering a new device, and then
// sending a design to a shared device whose partnership stream grows by
// one event each time) with a 64 MiB command cache, and reports the live
// heap (after a collection) at a tenth of them and at the end; the end may
// be at most 1.5 times the tenth. It runs only when asked (it takes
// minutes):
//
//	SHARELEDGER_HEAP_COMMANDS=1000000 go test -run HeapStaysFlat -v -timeout 60m ./commands/device/
func TestHeapStaysFlatOverManyCommands(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHARELEDGER_HEAP_COMMANDS"))
	if n <= 0 {
		t.Skip("a measurement: set SHARELEDGER_HEAP_COMMANDS to the number of commands to run")
	}
	ctx := context.Background()
	es, err := eventpebble.Open(eventpebble.Config{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	seedSharedDevice(t, es)
	repo := commands.Repo{Events: es, Registry: catalog.New(), Cache: commands.NewStateCache(64 << 20), SnapshotEvery: 1000}
	h := devicecmd.New(repo, slog.New(slog.NewTextHandler(io.Discard, nil)))
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	start := time.Now()
	var atTenth uint64
	for i := range n {
		var err error
		if i%2 == 0 {
			m := commands.Meta{Caller: domain.Actor{User: "bob@rentco.test", Account: "rentco"}, CommandID: fmt.Sprint("r", i), Time: time.Now()}
			_, err = h.Register.Handle(ctx, devicecmd.Register{Meta: m, Serial: fmt.Sprint("S", i), Name: "Drone"})
		} else {
			m := commands.Meta{Caller: domain.Actor{User: "alice@acme.test", Account: "acme"}, CommandID: fmt.Sprint("d", i), Time: time.Now()}
			_, err = h.SendDesign.Handle(ctx, devicecmd.SendDesign{Meta: m, Device: "d1", Project: "site", Design: "deck.dxf"})
		}
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if i+1 == n/10 {
			atTenth = heap()
			t.Logf("after %d commands (%s): live heap %.1f MB, command cache %.1f MB in %d states", i+1, time.Since(start).Round(time.Second), float64(atTenth)/1e6, float64(repo.Cache.Size())/1e6, repo.Cache.Len())
		}
	}
	end := heap()
	t.Logf("after %d commands (%s): live heap %.1f MB, command cache %.1f MB in %d states; %.2fx the heap at a tenth", n, time.Since(start).Round(time.Second), float64(end)/1e6, float64(repo.Cache.Size())/1e6, repo.Cache.Len(), float64(end)/float64(atTenth))
	if float64(end) > 1.5*float64(atTenth) {
		t.Errorf("the live heap grew %.2fx from a tenth of the commands to all of them; issue 12 allows 1.5x", float64(end)/float64(atTenth))
	}
}
