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
func TestHelpIsAnAnswer(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--help"}, {"token", "--help"}, {"status", "-h"}, {"audit", "--help"},
		{"replay", "verify", "--help"}, {"replay", "rebuild", "--help"}, {"help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, &out, &errOut)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("error %v", err)
			}
			if !strings.Contains(strings.ToLower(out.String()), "usage") || errOut.Len() != 0 {
				t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
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
