package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
)

func token(args []string, stdout, stderr io.Writer) error {
	f := newFlags("token", stderr)
	var user, acc, dataDir, keyFile string
	var ttl time.Duration
	var operator bool
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger token --user EMAIL --account ORGANIZATION [flags]\n"+
			"       shareledger token --operator [flags]\n\n"+
			"Prints a bearer token for a user acting for an account, or for the operator of the service\n"+
			"(who reaches the operations routes, /v1/admin/..., and no account's data), signed with the service's key.\n\nFlags:\n")
		f.PrintDefaults()
	}
	f.str(&user, "user", "SHARELEDGER_USER", "", "the user's e-mail address")
	f.str(&acc, "account", "SHARELEDGER_ACCOUNT", "", "the account's short organization name")
	f.str(&dataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "data folder of the service (for its signing key)")
	f.str(&keyFile, "signing-key-file", "SHARELEDGER_SIGNING_KEY_FILE", "", "signing key file (default <data>/signing.key)")
	f.dur(&ttl, "ttl", "SHARELEDGER_TOKEN_TTL", 24*time.Hour, "how long the token is valid")
	f.BoolVar(&operator, "operator", false, "mint an operator's token instead of a user's")
	if err := f.Parse(args); err != nil {
		return err
	}
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, "signing.key")
	}
	if operator {
		if ttl <= 0 {
			return errors.New("--ttl must be positive")
		}
		keys, err := httpapi.LoadKeys(keyFile)
		if err != nil {
			return err
		}
		tok, err := keys.MintOperator(ttl)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, tok)
		return err
	}
	u, errU := domain.ParseUser(user)
	a, errA := domain.ParseOrganization(acc)
	var errT error
	if ttl <= 0 {
		errT = errors.New("--ttl must be positive")
	}
	if err := errors.Join(errU, errA, errT); err != nil {
		return err
	}
	keys, err := httpapi.LoadKeys(keyFile)
	if err != nil {
		return err
	}
	tok, err := keys.Mint(u, a, ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
