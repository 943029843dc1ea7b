// Command shareledger runs the ShareLedger service and its tools. It only
// reads configuration, wires dependencies and runs subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

const usage = `shareledger decides and records who may use what across companies.

Usage:
  shareledger serve [flags]   run the HTTP service (embedded storage by default)
  shareledger token [flags]   mint a bearer token for a user of an account
  shareledger audit [flags] KIND:ID   print an entity's history from the running service
  shareledger replay verify|rebuild   compare read models with the log, or rebuild them
  shareledger status [flags]          print the projections' status from the running service

Run "shareledger <command> --help" for a command's flags. Every flag can also
be set by the environment variable named in its help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // the help asked for was printed
		}
		fmt.Fprintln(os.Stderr, "shareledger:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	if slices.ContainsFunc(args[1:], func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		stderr = stdout // help that was asked for is the answer, not an error
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "status":
		return statusCmd(args[1:], stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
