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

// remote is how the CLI's read commands reach a running service.
type remote struct {
	base, token, user, account, dataDir string
}

// flags registers the connection flags.
func (c *remote) flags(f flagSet) {
	f.str(&c.base, "url", "SHARELEDGER_URL", "http://127.0.0.1:8080", "the service")
	f.str(&c.token, "token", "SHARELEDGER_TOKEN", "", "a bearer token (or mint one with --user and --account)")
	f.str(&c.user, "user", "SHARELEDGER_USER", "", "mint a token for this user...")
	f.str(&c.account, "account", "SHARELEDGER_ACCOUNT", "", "...of this account, with the signing key in --data")
	f.str(&c.dataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "data folder holding the signing key")
}

// get copies the answer to GET path to out.
func (c *remote) get(path string, out io.Writer) error {
	tok := c.token
	if tok == "" {
		u, errU := domain.ParseUser(c.user)
		a, errA := domain.ParseOrganization(c.account)
		if err := errors.Join(errU, errA); err != nil {
			return fmt.Errorf("give --token, or --user and --account: %w", err)
		}
		keys, err := auth.LoadOrCreate(filepath.Join(c.dataDir, "signing.key"))
		if err != nil {
			return err
		}
		if tok, err = keys.Mint(u, a, time.Hour); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(c.base, "/")+path, nil)
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
	_, err = io.Copy(out, res.Body)
	return err
}
