package main

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
)

// gcPercent is the garbage collector's target the service runs with
// unless GOGC says otherwise: the heap may grow to five times what is
// live before a collection, instead of Go's default of twice. The
// service's live heap is small and bounded (the command cache's budget,
// a page of events per projection), and at Go's default the collector
// took about an eighth of the service's CPU under load; at 400 a design
// sent over HTTP took about 15% less CPU, for about 50 MB more memory
// at peak (docs/benchmarks.md). A soft memory limit (memoryPolicy)
// keeps it in a container's budget.
const gcPercent = 400

// memoryPolicy is how the service sets Go's garbage collector: the
// target (Percent, -1 to leave it as GOGC set it) and a soft limit on
// the memory Go manages (Limit, 0 to leave it as GOMEMLIMIT set it).
type memoryPolicy struct {
	Percent int
	Limit   int64
	// From says where the limit comes from, for the log.
	From string
}

// decideMemory chooses the policy: the environment's GOGC and
// GOMEMLIMIT win, as Go's documentation promises; otherwise the target
// is gcPercent, and the limit is the --memory-limit flag or, without
// it, nine tenths of the container's memory limit (cgroup v2's
// memory.max, or v1's memory.limit_in_bytes, as read into cgroup), the
// rest left for the read models' and the log's memory maps and the
// page cache. No container limit, no soft limit.
func decideMemory(getenv func(string) (string, bool), flagLimit int64, cgroup []byte) memoryPolicy {
	p := memoryPolicy{Percent: gcPercent}
	if _, ok := getenv("GOGC"); ok {
		p.Percent = -1
	}
	if _, ok := getenv("GOMEMLIMIT"); ok {
		p.From = "GOMEMLIMIT"
		return p
	}
	if flagLimit > 0 {
		p.Limit, p.From = flagLimit, "--memory-limit"
		return p
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(cgroup)), 10, 64)
	// "max" (v2) or a page-rounded MaxInt64 (v1) is no limit.
	if err == nil && n > 0 && n < 1<<62 {
		p.Limit, p.From = n/10*9, "container"
	}
	return p
}

// cgroupMemory is the container's memory limit as its cgroup file
// gives it, or nil outside a container that has one.
func cgroupMemory() []byte {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(path); err == nil {
			return b
		}
	}
	return nil
}

// apply sets the policy for the process and returns what undoes it.
func (p memoryPolicy) apply() (restore func()) {
	percent, limit := -1, int64(-1)
	if p.Percent >= 0 {
		percent = debug.SetGCPercent(p.Percent)
	}
	if p.Limit > 0 {
		limit = debug.SetMemoryLimit(p.Limit)
	}
	return func() {
		if percent >= 0 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// String says what the policy sets, for the log.
func (p memoryPolicy) String() string {
	s := "GOGC from the environment"
	if p.Percent >= 0 {
		s = "GOGC=" + strconv.Itoa(p.Percent)
	}
	switch {
	case p.Limit > 0:
		return s + ", soft memory limit " + formatBytes(p.Limit) + " (" + p.From + ")"
	case p.From != "":
		return s + ", soft memory limit from " + p.From
	}
	return s + ", no soft memory limit"
}
