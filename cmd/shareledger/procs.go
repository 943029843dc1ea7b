package main

import (
	"runtime"
	"strconv"
)

// procsPolicy is how many processors (Go's Ps, GOMAXPROCS) the service's
// Go code runs on.
//
// Each embedded store writes to disk from a loop of its own: Pebble's log
// writer syncs the event log (fdatasync) for every group of appends, and
// the read models' writer commits bbolt transactions (pwrite, then
// fdatasync). A file's system calls block the thread that makes them, and
// the goroutine keeps its P until the runtime's monitor notices and hands
// the P to another thread, and must find a P again when the call returns.
// On a machine of two CPUs, one loop in a sync is half the service's
// processors. So the service runs one P more than Go's default (the CPUs
// it may use, as its container allows) for each embedded store it opens:
// four on two CPUs with the embedded default. At 64 clients sending
// designs over HTTP, that took the service from about 0.30 to about 0.37
// of the machine's HTTP ceiling, with its p99 from 21-24 ms to 17-19 ms
// (docs/benchmarks.md). Stores across the network (EventStoreDB,
// PostgreSQL) wait in the network poller, which holds no P, and get no
// more: the same extra Ps made a bare handler's tail worse. Go's default
// is read once, at the start: a container's CPU limit changed later is
// not followed (setting GOMAXPROCS ends Go's own updates of it).
type procsPolicy struct {
	// N is the processors to run on; 0 leaves them as GOMAXPROCS set them.
	N int
	// Default is Go's own choice, and Stores the embedded stores that
	// add one each, for the log.
	Default, Stores int
}

// decideProcs chooses the processors: GOMAXPROCS in the environment wins,
// as Go's documentation promises; otherwise Go's default (defaultProcs,
// runtime.GOMAXPROCS(0) before any change) plus one for each embedded
// store. Without embedded stores, Go's default is left as it is.
func decideProcs(getenv func(string) (string, bool), defaultProcs, embeddedStores int) procsPolicy {
	if _, ok := getenv("GOMAXPROCS"); ok || embeddedStores <= 0 {
		return procsPolicy{}
	}
	return procsPolicy{N: defaultProcs + embeddedStores, Default: defaultProcs, Stores: embeddedStores}
}

// embeddedStores counts the stores of cfg that write to local files: the
// event log (Pebble) and the read models (bbolt) by default.
func embeddedStores(cfg config) int {
	n := 0
	if cfg.EventStore == "" {
		n++
	}
	if cfg.ReadModels == "" {
		n++
	}
	return n
}

// apply sets the processors for the process and returns what undoes it.
func (p procsPolicy) apply() (restore func()) {
	if p.N <= 0 {
		return func() {}
	}
	before := runtime.GOMAXPROCS(p.N)
	return func() { runtime.GOMAXPROCS(before) }
}

// String says what the policy sets, for the log.
func (p procsPolicy) String() string {
	if p.N <= 0 {
		return "GOMAXPROCS as Go or the environment set it"
	}
	return "GOMAXPROCS=" + strconv.Itoa(p.N) + " (" + strconv.Itoa(p.Default) + " CPUs, one more for each of " + strconv.Itoa(p.Stores) + " embedded stores' disk writes)"
}
