package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTheClientIsGeneratedFromTheCurrentDescription: apiclient.gen.go is
// what oapi-codegen (pinned in go.mod's tool directive) makes of
// commands/httpapi/openapi.json today, so the client never drifts from the
// description.
func TestTheClientIsGeneratedFromTheCurrentDescription(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "apiclient.gen.go")
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("output: apiclient.gen.go"), []byte("output: "+out), 1)
	if err := os.WriteFile(filepath.Join(dir, "cfg.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "cfg.yaml"), "../../commands/httpapi/openapi.json")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("apiclient.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("apiclient.gen.go is not what commands/httpapi/openapi.json generates: run go generate ./readapi/apiclient/")
	}
}
