package esdb_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/eventstore/esdb"
	"github.com/shareledger/shareledger/eventstore/storetest"
)

// The image of the real server; override with SHARELEDGER_ESDB_IMAGE.
const serverImage = "eventstore/eventstore:24.10"

// realServer starts EventStoreDB in a container, where Docker is
// available, and returns its connection string.
//
//	go test -run RealServer -v ./eventstore/esdb/   # needs a Docker engine
func realServer(t *testing.T) string {
	t.Log("this test runs EventStoreDB in a container and needs a Docker engine; elsewhere it skips (the protocol double covers the adapter)")
	testcontainers.SkipIfProviderIsNotHealthy(t)
	ctx := context.Background()
	image := serverImage
	if v := envOr("SHARELEDGER_ESDB_IMAGE", ""); v != "" {
		image = v
	}
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts("2113/tcp"),
		testcontainers.WithEnv(map[string]string{
			"EVENTSTORE_INSECURE":        "true",
			"EVENTSTORE_MEM_DB":          "true",
			"EVENTSTORE_CLUSTER_SIZE":    "1",
			"EVENTSTORE_RUN_PROJECTIONS": "None",
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/health/live").WithPort("2113/tcp").
			WithStatusCodeMatcher(func(s int) bool { return s == http.StatusNoContent }).WithStartupTimeout(2*time.Minute)),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("start %s: %v", image, err)
	}
	endpoint, err := ctr.PortEndpoint(ctx, "2113/tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	return "esdb://" + endpoint + "?tls=false"
}

func TestConformanceAgainstTheRealServer(t *testing.T) {
	url := realServer(t)
	storetest.Run(t, storetest.Harness{
		New: func(t testing.TB) eventstore.Store {
			s, err := esdb.Open(esdb.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		StreamIDsOnly: true,
		NoGuards:      true,
	})
}
