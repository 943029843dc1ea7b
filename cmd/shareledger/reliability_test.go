package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/readapi"
)

// describedOperations lists the operations of the OpenAPI description,
// in a stable order, with whether an operator's token reaches them.
type describedOperation struct {
	method, path string
	op           *openapi3.Operation
	operator     bool
	secured      bool
}

func describedOperations(t testing.TB) []describedOperation {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var out []describedOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			d := describedOperation{method: method, path: path, op: op, secured: op.Security == nil || len(*op.Security) > 0}
			if op.Security != nil && len(*op.Security) > 0 {
				_, d.operator = (*op.Security)[0]["operator"]
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].method+out[i].path < out[j].method+out[j].path })
	return out
}

// jwt signs header and claims with secret (HS256), or leaves the
// signature empty when secret is nil.
func jwt(header, claims any, secret []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if secret == nil {
		return signing + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestForgedTokensAreRefused sends every secured operation forged,
// tampered, expired and misused tokens: each is refused, 401 for a token
// that proves nothing and 403 for a valid token on the wrong kind of
// route, and nothing is appended.
func TestForgedTokensAreRefused(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.partnered()
	fx := specFixtures(s, alice, bob)
	keys, err := httpapi.LoadKeys(s.cfg.SigningKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	good := alice.token
	expired, _ := keys.Mint("alice@acme.test", "acme", -time.Minute)
	operator := s.operator().token
	now := time.Now().Unix()
	claims := func(sub, acc, scope string) httpapi.Claims {
		return httpapi.Claims{Subject: sub, Account: acc, Issued: now, Expires: now + 3600, Scope: scope}
	}
	hs := map[string]string{"alg": "HS256", "typ": "JWT"}
	parts := strings.Split(good, ".")
	tampered, _ := json.Marshal(claims("alice@acme.test", "rentco", ""))
	forged := []struct {
		name   string
		header string
		status int // for a user's route; an operator's route answers 401 or 403 alike
	}{
		{"no Authorization header", "", 401},
		{"an empty bearer token", "Bearer ", 401},
		{"another scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret")), 401},
		{"garbage", "Bearer not-a-token", 401},
		{"two parts", "Bearer " + parts[0] + "." + parts[1], 401},
		{"alg none", "Bearer " + jwt(map[string]string{"alg": "none", "typ": "JWT"}, claims("alice@acme.test", "acme", ""), nil), 401},
		{"signed with another key", "Bearer " + jwt(hs, claims("alice@acme.test", "acme", ""), []byte(strings.Repeat("k", 32))), 401},
		{"claims changed after signing", "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], 401},
		{"signature of another token", "Bearer " + parts[0] + "." + parts[1] + "." + strings.Split(operator, ".")[2], 401},
		{"expired", "Bearer " + expired, 401},
		{"a subject that is not an e-mail address", "Bearer " + jwt(hs, claims("alice", "acme", ""), nil), 401},
		{"an unknown scope", "Bearer " + jwt(hs, claims("alice@acme.test", "acme", "root"), nil), 401},
		{"100 KB of token", "Bearer " + strings.Repeat("a", 100_000), 401},
		{"an operator's token on a user's route", "Bearer " + operator, 403},
	}
	// Self-signed variants need the service's key to be forged well: sign
	// them with a key that is not the service's.
	for i := range forged {
		if strings.Contains(forged[i].name, "subject") || strings.Contains(forged[i].name, "scope") {
			c := claims("alice", "acme", "")
			if strings.Contains(forged[i].name, "scope") {
				c = claims("alice@acme.test", "acme", "root")
			}
			forged[i].header = "Bearer " + jwt(hs, c, []byte(strings.Repeat("q", 32)))
		}
	}
	// The scheme's name is case-insensitive (RFC 9110).
	if r := (client{s: s}).do(http.MethodGet, "/v1/account?position="+fx.at, nil, "Authorization", "bearer "+good); r.status != http.StatusOK {
		t.Fatalf("a valid token with the scheme in lower case: %d %s", r.status, r.body)
	}
	var st readapi.Page[readapi.ProjectionStatus]
	alice.do(http.MethodGet, "/v1/projections", nil).decode(t, &st)
	before := st.Items[0].Head.String()
	tried, refused := 0, 0
	for _, o := range describedOperations(t) {
		if !o.secured {
			continue
		}
		path := fx.path(o.path)
		if q := fx.query(o.op); q != "" {
			path += "?" + q
		}
		body, ctype := fx.body(o.op)
		for _, f := range forged {
			if o.operator && f.status == http.StatusForbidden {
				continue // an operator's token is the right one there
			}
			headers := []string{"Authorization", f.header}
			if ctype != "" {
				headers = append(headers, "Content-Type", ctype)
			}
			r := client{s: s}.do(o.method, path, body, headers...)
			tried++
			want := f.status
			if o.operator {
				// A user's token is valid but not an operator's: 403;
				// everything else proves nothing: 401.
				want = 401
			}
			if r.status != want {
				t.Errorf("%s %s with %s: %d %.200s, want %d", o.method, o.path, f.name, r.status, r.body, want)
				continue
			}
			refused++
		}
		if o.operator {
			tried++
			if r := alice.do(o.method, path, body, "Content-Type", ctype); r.status != http.StatusForbidden {
				t.Errorf("%s %s with a user's token: %d, want 403", o.method, o.path, r.status)
			} else {
				refused++
			}
		}
	}
	alice.do(http.MethodGet, "/v1/projections", nil).decode(t, &st)
	if after := st.Items[0].Head.String(); after != before {
		t.Errorf("forged tokens moved the log from %s to %s", before, after)
	}
	t.Logf("%d forged or misused token requests over every secured operation, %d refused as they should be", tried, refused)
	writeReport(t, "forged-tokens", fmt.Sprintf("| token | requests | refused as they should be |\n| --- | --- | --- |\n| %d kinds of forged, tampered, expired or misused tokens, over every secured operation | %d | %d |\n", len(forged)+1, tried, refused))
}

// TestNoAccountReachesAnothersData: an administrator of another account
// (Eve of Other) sends every operation naming ACME's things (its project,
// the device shared with it, its collection, node, role, subuser, cloud
// project and job). None may succeed on them, and no answer may hold
// them.
func TestNoAccountReachesAnothersData(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.partnered()
	fx := specFixtures(s, alice, bob)
	eve := s.as("eve@other.test", "other")
	eve.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Eve"})
	eve.command("POST", "/v1/identities", map[string]any{"name": "Eve"})
	// People's addresses are not ACME's: a person may belong to several
	// accounts, so Eve may add ann@acme.test to her own. ACME's things are.
	secrets := []string{fx.device, fx.project, fx.item, fx.cloudProject, fx.job}
	names := func(s string) bool {
		for _, x := range secrets {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	tried, refused, own, wrong := 0, 0, 0, 0
	for _, o := range describedOperations(t) {
		if !o.secured || o.operator {
			continue
		}
		path := fx.path(o.path)
		if q := fx.query(o.op); q != "" {
			path += "?" + q
		}
		body, ctype := fx.body(o.op)
		sent, _ := json.Marshal(body)
		r := eve.do(o.method, path, body, "Content-Type", ctype)
		tried++
		switch {
		case r.status >= 400:
			refused++
		case names(path) || names(string(sent)):
			wrong++
			t.Errorf("%s %s as another account's administrator: %d %.300s", o.method, path, r.status, r.body)
		case names(string(r.body)):
			wrong++
			t.Errorf("%s %s as another account's administrator answers ACME's data: %.300s", o.method, path, r.body)
		default:
			own++ // a route about the caller's own account, answered without ACME's data
		}
	}
	t.Logf("%d operations sent by another account's administrator with ACME's ids: %d refused, %d answered about her own account only, %d wrong", tried, refused, own, wrong)
	writeReport(t, "foreign-account", fmt.Sprintf("| operations sent by another account's administrator, naming ACME's things | refused (4xx) | answered about her own account only | wrong |\n| --- | --- | --- | --- |\n| %d | %d | %d | %d |\n", tried, refused, own, wrong))
}
