package main

import (
	"fmt"
	"io"
)

// statusCmd prints the status of every projection of a running service.
func statusCmd(args []string, stdout, stderr io.Writer) error {
	f := newFlags("status", stderr)
	var c remote
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger status [flags]\n\nPrints each projection's checkpoint, lag and state (live, catching-up, poisoned) as JSON.\n\nFlags:\n")
		f.PrintDefaults()
	}
	c.flags(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	return c.get("/v1/projections", stdout)
}
