package httpapi

// The bearer tokens that identify a caller: compact JWS tokens (HS256)
// naming a user and the account they act for, with an expiry.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shareledger/shareledger/domain"
)

// ErrUnauthenticated covers a missing, malformed, forged or expired token.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrOperatorToken answers an operator's token on a user's route: it is a
// valid token, without the right to act for any account.
var ErrOperatorToken = domain.NewError(domain.Forbidden, "user-token-required", "an operator's token reaches only the operations routes; this route needs a user's token (shareledger token --user ... --account ...)")

// ErrNotOperator answers a user's token on the operations routes.
var ErrNotOperator = domain.NewError(domain.Forbidden, "operator-only", "only an operator's token (shareledger token --operator) reaches the operations routes")

// Keys signs and verifies tokens with one secret.
type Keys struct {
	secret []byte
	now    func() time.Time
	// verified holds the claims of tokens whose signature was checked:
	// a client sends the same token with every request, and checking it
	// (an HMAC, three base64 decodings, two JSON decodings) was about 3%
	// of a command's CPU. Only tokens this key signed get in, and each
	// hit checks the expiry again.
	verified verifiedTokens
}

// verifiedTokens is a bounded set of tokens already verified, with their
// claims; full, it is emptied and starts again.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]Claims
}

// maxVerified bounds verifiedTokens: a token is a few hundred bytes, so
// about 2.5 MB at most.
const maxVerified = 10000

func (v *verifiedTokens) get(token string) (Claims, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, ok := v.m[token]
	return c, ok
}

func (v *verifiedTokens) put(token string, c Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[string]Claims)
	}
	v.m[token] = c
}

// NewKeys uses secret, which must be at least 32 bytes.
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("signing key must be at least 32 bytes")
	}
	return &Keys{secret: secret, now: time.Now}, nil
}

// LoadKeys reads the signing key the service created; it refuses when there is
// none, for a token signed with a new key would be refused by the service.
func LoadKeys(path string) (*Keys, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no signing key at %s: start the service once with this data folder (shareledger serve --data %s), or name the service's key with --signing-key-file", path, filepath.Dir(path))
	}
	return LoadOrCreateKeys(path)
}

// LoadOrCreateKeys reads the signing key at path, creating a random one on first
// use (the embedded default keeps it in the data folder).
func LoadOrCreateKeys(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKeys(path) // another process created it first
		}
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(b); err != nil {
			_ = f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	return NewKeys(b)
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// Claims are what a token says.
type Claims struct {
	Subject string `json:"sub"`
	Account string `json:"acc"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
	// Scope "operator" marks a token of whoever runs the service: it
	// reaches the operations routes (rebuilds), and no account's data.
	Scope string `json:"scope,omitempty"`
}

// OperatorScope is the scope of operators' tokens.
const OperatorScope = "operator"

// Mint issues a token for user acting for acc, valid for ttl.
func (k *Keys) Mint(user domain.UserID, acc domain.AccountID, ttl time.Duration) (string, error) {
	return k.mint(Claims{Subject: string(user), Account: string(acc)}, ttl)
}

// MintOperator issues an operator's token, valid for ttl.
func (k *Keys) MintOperator(ttl time.Duration) (string, error) {
	return k.mint(Claims{Subject: "operator", Scope: OperatorScope}, ttl)
}

func (k *Keys) mint(c Claims, ttl time.Duration) (string, error) {
	now := k.now()
	c.Issued, c.Expires = now.Unix(), now.Add(ttl).Unix()
	h, _ := json.Marshal(header{Alg: "HS256", Typ: "JWT"})
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := enc(h) + "." + enc(body)
	return signing + "." + enc(k.sign(signing)), nil
}

// Verify checks a user's token and returns who it names.
func (k *Keys) Verify(token string) (domain.Actor, error) {
	c, err := k.claims(token)
	if err != nil {
		return domain.Actor{}, err
	}
	if c.Scope == OperatorScope {
		return domain.Actor{}, ErrOperatorToken
	}
	if c.Scope != "" {
		return domain.Actor{}, fmt.Errorf("%w: unknown token scope %s", ErrUnauthenticated, domain.Quote(c.Scope))
	}
	user, err := domain.ParseUser(c.Subject)
	if err != nil {
		return domain.Actor{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	acc, err := domain.ParseOrganization(c.Account)
	if err != nil {
		return domain.Actor{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return domain.Actor{User: user, Account: acc}, nil
}

// claims checks a token's signature, header and expiry.
func (k *Keys) claims(token string) (Claims, error) {
	c, ok := k.verified.get(token)
	if !ok {
		var err error
		if c, err = k.check(token); err != nil {
			return Claims{}, err
		}
		k.verified.put(token, c)
	}
	if k.now().Unix() >= c.Expires {
		return Claims{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	}
	return c, nil
}

// check checks a token's signature and header, and reads its claims.
func (k *Keys) check(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, k.sign(parts[0]+"."+parts[1])) {
		return Claims{}, fmt.Errorf("%w: bad signature", ErrUnauthenticated)
	}
	var h header
	if b, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &h) != nil || h.Alg != "HS256" {
		return Claims{}, fmt.Errorf("%w: unsupported token header", ErrUnauthenticated)
	}
	var c Claims
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &c) != nil {
		return Claims{}, fmt.Errorf("%w: malformed claims", ErrUnauthenticated)
	}
	return c, nil
}

func (k *Keys) sign(s string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type ctxKey struct{}

// Require lets through only requests with a valid bearer token, and puts
// the caller into the request's context; others get onError's answer.
func (k *Keys) Require(onError func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			token, ok := bearer(h)
			if !ok || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shareledger"`)
				onError(w, r, fmt.Errorf("%w: send Authorization: Bearer <token> (mint one with `shareledger token`)", ErrUnauthenticated))
				return
			}
			actor, err := k.Verify(strings.TrimSpace(token))
			if err != nil {
				challenge := `Bearer realm="shareledger", error="invalid_token"`
				if errors.Is(err, ErrOperatorToken) {
					challenge = `Bearer realm="shareledger", error="insufficient_scope"`
				}
				w.Header().Set("WWW-Authenticate", challenge)
				onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, actor)))
		})
	}
}

// RequireOperator lets through only requests with a valid operator token.
func (k *Keys) RequireOperator(onError func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r.Header.Get("Authorization"))
			if !ok || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shareledger"`)
				onError(w, r, fmt.Errorf("%w: send Authorization: Bearer <operator token> (mint one with `shareledger token --operator`)", ErrUnauthenticated))
				return
			}
			c, err := k.claims(strings.TrimSpace(token))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shareledger", error="invalid_token"`)
				onError(w, r, err)
				return
			}
			if c.Scope != OperatorScope {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shareledger", error="insufficient_scope"`)
				onError(w, r, ErrNotOperator)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Identify says whose a token is: an account's user, or an operator
// (operator true), for a caller that takes both (the console).
func (k *Keys) Identify(token string) (actor domain.Actor, operator bool, err error) {
	c, err := k.claims(token)
	if err != nil {
		return actor, false, err
	}
	if c.Scope == OperatorScope {
		return actor, true, nil
	}
	actor, err = k.Verify(token)
	return actor, false, err
}

// bearer is the token of an Authorization header of the Bearer scheme,
// whose name is case-insensitive (RFC 9110, 11.1).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	return token, ok && strings.EqualFold(scheme, "Bearer")
}

// Caller is the authenticated caller of a request that passed Require.
func Caller(ctx context.Context) (domain.Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(domain.Actor)
	return a, ok
}
