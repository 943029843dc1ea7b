package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpIsAnAnswer: every command's --help prints its usage to standard
// output and succeeds.
// Each help names only the flags that apply, and says what is true.
func TestHelpIsAnAnswer(t *testing.T) {
	for _, tt := range []struct {
		args        []string
		says, lacks []string
	}{
		{[]string{"serve", "--help"}, []string{"Pebble", "bbolt", "-invitations-per-day", "-command-cache"}, nil},
		{[]string{"token", "--help"}, []string{"-operator"}, nil},
		{[]string{"status", "-h"}, []string{"-url"}, nil},
		{[]string{"audit", "--help"}, []string{"-url"}, nil},
		{[]string{"replay", "--help"}, []string{"verify", "rebuild"}, nil},
		{[]string{"replay", "verify", "--help"}, []string{"-data", "-readmodels"}, []string{"-url", "-remote", "-snapshot-every", "-token", "-user", "-account"}},
		{[]string{"replay", "rebuild", "--help"}, []string{"-url", "-remote", "-snapshot-every", "-token"}, []string{"-user", "-account"}},
		{[]string{"help"}, []string{"serve"}, nil},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), tt.args, &out, &errOut)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v", err)
			}
			if !strings.Contains(strings.ToLower(out.String()), "usage") || errOut.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
			}
			for _, w := range tt.says {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the help does not say %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.lacks {
				if strings.Contains(out.String(), w+" ") || strings.Contains(out.String(), w+"\n") {
					t.Errorf("the help lists %q, which does not apply:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestTokenNeedsTheServicesKey: without a signing key, token refuses and
// says where it looked, instead of minting with a new key that the service
// would refuse.
func TestTokenNeedsTheServicesKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"token", "--user", "a@b.test", "--account", "acme", "--data", dir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), dir) || out.Len() != 0 {
		t.Fatalf("token without a key: %v, printed %q", err, out.String())
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("token created %s: %v", dir, statErr)
	}
}
