package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTheREADMEWalkthroughRunsAsWritten runs every "sh walkthrough" block
// of README.md, in order, as written, in one bash against a started
// service, one command at a time. Every command must succeed, and its
// output must hold what its comment promises: each quoted "field":value,
// and the status and code of each "4xx code".
func TestTheREADMEWalkthroughRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("the walkthrough builds and runs the CLI many times; without -short it runs")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("the README walkthrough needs %s on the PATH (apt-get install %s); .ci/run installs it", tool, tool)
			if os.Getenv("SHARELEDGER_REQUIRE_DB") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	commands := walkthrough(string(readme))
	if len(commands) < 40 {
		t.Fatalf("found only %d walkthrough commands in README.md", len(commands))
	}
	s := start(t, testConfig(t, backends[0]))
	root, _ := filepath.Abs("../..")
	sh := exec.Command("bash", "--noprofile", "--norc")
	sh.Dir = root
	sh.Env = append(os.Environ(), "SHARELEDGER_DATA="+s.cfg.DataDir, "SHARELEDGER_URL="+s.base, "TMPDIR="+t.TempDir())
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	sh.Stdout, sh.Stderr = pw, pw
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = sh.Wait() })
	out := bufio.NewReader(pr)
	fmt.Fprintln(stdin, "set -o pipefail")
	for i, c := range commands {
		marker := fmt.Sprintf("__walkthrough_%d__", i)
		fmt.Fprintf(stdin, "%s\n__rc=$?; printf '\\n%s %%d\\n' $__rc\n", c.text, marker)
		var got strings.Builder
		rc := -1
		deadline := time.AfterFunc(2*time.Minute, func() { _ = sh.Process.Kill() })
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("README line %d: %s\nthe shell ended: %v\n%s", c.line, c.text, err, got.String())
			}
			if rest, ok := strings.CutPrefix(line, marker+" "); ok {
				fmt.Sscanf(rest, "%d", &rc)
				break
			}
			got.WriteString(line)
		}
		deadline.Stop()
		if rc != 0 {
			t.Fatalf("README line %d exits %d: %s\n%s", c.line, rc, c.text, got.String())
		}
		for _, want := range c.promises {
			if !strings.Contains(got.String(), want) {
				t.Errorf("README line %d promises %s: %s\n%.2000s", c.line, want, c.text, got.String())
			}
		}
	}
}

// walkCommand is one command of the walkthrough and what its comment
// promises the output holds.
type walkCommand struct {
	line     int
	text     string
	promises []string
}

var (
	fieldPromise   = regexp.MustCompile(`"[A-Za-z]+":(?:"[^"]*"|true|false|-?[0-9]+)`)
	problemPromise = regexp.MustCompile(`\b(4[0-9][0-9]) ([a-z]+(?:-[a-z]+)+|[a-z]+-?[a-z]*)\b`)
	trailing       = regexp.MustCompile(`\s{2,}#\s(.*)$`)
)

// walkthrough extracts the commands of the "sh walkthrough" blocks.
func walkthrough(readme string) []walkCommand {
	var out []walkCommand
	in := false
	var pending *walkCommand
	for i, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh walkthrough"):
			in = true
			continue
		case in && strings.HasPrefix(line, "```"):
			in = false
			continue
		case !in:
			continue
		}
		text := line
		comment := ""
		if m := trailing.FindStringSubmatchIndex(line); m != nil && !strings.Contains(line[:m[0]], "'#") {
			text, comment = line[:m[0]], line[m[2]:m[3]]
		}
		if pending != nil {
			pending.text += "\n" + text
		} else {
			if strings.TrimSpace(text) == "" || strings.HasPrefix(strings.TrimSpace(text), "#") {
				continue
			}
			pending = &walkCommand{line: i + 1, text: text}
		}
		pending.promises = append(pending.promises, fieldPromise.FindAllString(comment, -1)...)
		for _, m := range problemPromise.FindAllStringSubmatch(comment, -1) {
			pending.promises = append(pending.promises, `"status":`+m[1], `"code":"`+m[2]+`"`)
		}
		if strings.HasSuffix(strings.TrimSpace(text), "\\") {
			continue
		}
		out = append(out, *pending)
		pending = nil
	}
	return out
}
