package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
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

// bearer returns --token, or mints a token with the signing key in
// --data: an operator's when operator is set, else --user's of --account.
func (c *remote) bearer(operator bool) (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	var u domain.UserID
	var a domain.AccountID
	if !operator {
		var errU, errA error
		u, errU = domain.ParseUser(c.user)
		a, errA = domain.ParseOrganization(c.account)
		if err := errors.Join(errU, errA); err != nil {
			return "", fmt.Errorf("give --token, or --user and --account: %w", err)
		}
	}
	keys, err := httpapi.LoadKeys(filepath.Join(c.dataDir, "signing.key"))
	if err != nil {
		return "", err
	}
	if operator {
		return keys.MintOperator(time.Hour)
	}
	return keys.Mint(u, a, time.Hour)
}

// get copies the answer to GET path to out.
func (c *remote) get(path string, out io.Writer) error {
	res, err := c.call(http.MethodGet, path, nil, false)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(out, res.Body)
	return err
}

// call sends a request and returns a 2xx answer; others become errors.
func (c *remote) call(method, path string, body any, operator bool) (*http.Response, error) {
	tok, err := c.bearer(operator)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("%s: %s", res.Status, b)
	}
	return res, nil
}

// decode sends a request and decodes its JSON answer into out.
func (c *remote) decode(method, path string, body, out any, operator bool) error {
	res, err := c.call(method, path, body, operator)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(out)
}
