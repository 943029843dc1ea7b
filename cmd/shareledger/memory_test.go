package main

import (
	"runtime/debug"
	"testing"
)

// lookupIn is a lookup in vars, as os.LookupEnv looks up the environment.
func lookupIn(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDecideMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		flag   int64
		cgroup string
		want   memoryPolicy
	}{
		{name: "bare machine", want: memoryPolicy{Percent: gcPercent}},
		{name: "cgroup v2 without a limit", cgroup: "max\n", want: memoryPolicy{Percent: gcPercent}},
		{name: "cgroup v1 without a limit", cgroup: "9223372036854771712\n", want: memoryPolicy{Percent: gcPercent}},
		{name: "container of 1 GiB", cgroup: "1073741824\n", want: memoryPolicy{Percent: gcPercent, Limit: 1073741824 / 10 * 9, From: "container"}},
		{name: "unreadable cgroup file", cgroup: "lots", want: memoryPolicy{Percent: gcPercent}},
		{name: "the flag wins over the container", flag: 256 << 20, cgroup: "1073741824", want: memoryPolicy{Percent: gcPercent, Limit: 256 << 20, From: "--memory-limit"}},
		{name: "GOMEMLIMIT wins over the flag", env: map[string]string{"GOMEMLIMIT": "300MiB"}, flag: 256 << 20, cgroup: "1073741824", want: memoryPolicy{Percent: gcPercent, From: "GOMEMLIMIT"}},
		{name: "GOGC is left as set", env: map[string]string{"GOGC": "50"}, want: memoryPolicy{Percent: -1}},
		{name: "GOGC=off is left as set, with the container's limit", env: map[string]string{"GOGC": "off"}, cgroup: "2000", want: memoryPolicy{Percent: -1, Limit: 1800, From: "container"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideMemory(lookupIn(tc.env), tc.flag, []byte(tc.cgroup)); got != tc.want {
				t.Errorf("decideMemory = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMemoryPolicyAppliesAndRestores(t *testing.T) {
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	restore := memoryPolicy{Percent: 400, Limit: 3 << 30}.apply()
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Errorf("GC percent %d while applied, want 400", got)
	}
	debug.SetGCPercent(400)
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("memory limit %d while applied, want %d", got, 3<<30)
	}
	restore()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent %d restored, want 100", got)
	}
	debug.SetGCPercent(100)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit %d restored, want %d", got, limit)
	}
	// A policy that leaves both as the environment set them changes neither.
	memoryPolicy{Percent: -1}.apply()()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent %d after a policy leaving it, want 100", got)
	}
	debug.SetGCPercent(100)
}
