package main

import (
	"runtime"
	"testing"
)

func TestDecideProcs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		cfg      config
		defaults int
		want     procsPolicy
	}{
		{name: "embedded default on two CPUs", cfg: config{}, defaults: 2, want: procsPolicy{N: 4, Default: 2, Stores: 2}},
		{name: "embedded default on one CPU", cfg: config{}, defaults: 1, want: procsPolicy{N: 3, Default: 1, Stores: 2}},
		{name: "embedded log, PostgreSQL read models", cfg: config{ReadModels: "postgres://localhost/test"}, defaults: 8, want: procsPolicy{N: 9, Default: 8, Stores: 1}},
		{name: "PostgreSQL log, embedded read models", cfg: config{EventStore: "postgres://localhost/test"}, defaults: 2, want: procsPolicy{N: 3, Default: 2, Stores: 1}},
		{name: "EventStoreDB and PostgreSQL: Go's default", cfg: config{EventStore: "esdb://localhost:2113", ReadModels: "postgres://localhost/test"}, defaults: 2, want: procsPolicy{}},
		{name: "GOMAXPROCS wins", env: map[string]string{"GOMAXPROCS": "2"}, cfg: config{}, defaults: 2, want: procsPolicy{}},
		{name: "GOMAXPROCS wins even when empty", env: map[string]string{"GOMAXPROCS": ""}, cfg: config{}, defaults: 2, want: procsPolicy{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideProcs(lookupIn(tc.env), tc.defaults, embeddedStores(tc.cfg)); got != tc.want {
				t.Errorf("decideProcs = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProcsPolicyAppliesAndRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	restore := procsPolicy{N: before + 2, Default: before, Stores: 2}.apply()
	if got := runtime.GOMAXPROCS(0); got != before+2 {
		t.Errorf("GOMAXPROCS %d while applied, want %d", got, before+2)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS %d restored, want %d", got, before)
	}
	// A policy that leaves them changes nothing.
	procsPolicy{}.apply()()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS %d after a policy leaving it, want %d", got, before)
	}
}

func TestProcsPolicySaysWhatItSets(t *testing.T) {
	for _, tc := range []struct {
		p    procsPolicy
		want string
	}{
		{procsPolicy{N: 4, Default: 2, Stores: 2}, "GOMAXPROCS=4 (2 CPUs, one more for each of 2 embedded stores' disk writes)"},
		{procsPolicy{}, "GOMAXPROCS as Go or the environment set it"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}
