package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/shareledger/shareledger/commands/auth"
	"github.com/shareledger/shareledger/domain"
)

// statusCmd prints the status of every projection of a running service.
func statusCmd(args []string, stdout, stderr io.Writer) error {
	f := newFlags("status", stderr)
	var base, tok, user, acc, dataDir string
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger status [flags]\n\nPrints each projection's checkpoint, lag and state (live, catching-up, poisoned) as JSON.\n\nFlags:\n")
		f.PrintDefaults()
	}
	f.str(&base, "url", "SHARELEDGER_URL", "http://127.0.0.1:8080", "the service")
	f.str(&tok, "token", "SHARELEDGER_TOKEN", "", "a bearer token (or mint one with --user and --account)")
	f.str(&user, "user", "SHARELEDGER_USER", "", "mint a token for this user...")
	f.str(&acc, "account", "SHARELEDGER_ACCOUNT", "", "...of this account, with the key in --data")
	f.str(&dataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "data folder holding the signing key")
	if err := f.Parse(args); err != nil {
		return err
	}
	if tok == "" {
		u, errU := domain.ParseUser(user)
		a, errA := domain.ParseOrganization(acc)
		if err := errors.Join(errU, errA); err != nil {
			return fmt.Errorf("give --token, or --user and --account: %w", err)
		}
		keys, err := auth.LoadOrCreate(filepath.Join(dataDir, "signing.key"))
		if err != nil {
			return err
		}
		if tok, err = keys.Mint(u, a, time.Hour); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/projections", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s: %s", res.Status, b)
	}
	_, err = io.Copy(stdout, res.Body)
	return err
}
