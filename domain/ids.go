package domain

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AccountID identifies an account. It is the account's short organization
// name folded to lower case, which makes the name unique without a separate
// index: two accounts whose names differ only in case are the same stream.
type AccountID string

// UserID identifies a person: their e-mail address in lower case.
type UserID string

// The limits on what a command may store. A stored event can never be taken
// back, so every string it carries is bounded before it is appended; the
// OpenAPI description publishes the same numbers (lengths in characters).
const (
	// MaxEmail is the longest e-mail address (RFC 5321's path limit less
	// its angle brackets).
	MaxEmail = 254
	// MaxID is the longest identifier: a device, project, item, node,
	// member, job or cloud project id.
	MaxID = 128
	// MaxName is the longest name of anything (an account holder, a
	// device, a fleet, a role, a job, a stylesheet).
	MaxName = 200
	// MaxText is the longest free text (a partnership request's message).
	MaxText = 2000
	// MaxList is the most entries a list in one command may hold (devices
	// to share, people to notify or assign).
	MaxList = 1000
)

var orgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$`)

// ParseOrganization checks a short organization name and returns the account
// identifier it stands for.
func ParseOrganization(name string) (AccountID, error) {
	name = strings.TrimSpace(name)
	if !orgName.MatchString(name) {
		return "", Invalidf("invalid-organization", "short organization name %s must be 2 to 32 letters, digits, '-' or '_', starting with a letter or digit", Quote(name))
	}
	return AccountID(strings.ToLower(name)), nil
}

// ParseUser checks an e-mail address and returns the user it identifies: the
// plain address (no display name, comment or angle brackets), trimmed and in
// lower case. Every route that names a person, in its path or its body,
// goes through here, so two spellings of one address are one person.
func ParseUser(email string) (UserID, error) {
	a := strings.TrimSpace(email)
	bad := func(why string) (UserID, error) {
		return "", Invalidf("invalid-email", "%s is not a plain e-mail address: %s", Quote(email), why)
	}
	if a == "" {
		return bad("it is empty")
	}
	if len(a) > MaxEmail {
		return bad(fmt.Sprintf("it is longer than %d characters", MaxEmail))
	}
	local, host, ok := strings.Cut(a, "@")
	if !ok || strings.Contains(host, "@") {
		return bad("it needs exactly one @")
	}
	if local == "" || len(local) > 64 {
		return bad("the part before @ must be 1 to 64 characters")
	}
	for _, dot := range strings.Split(local, ".") {
		if dot == "" {
			return bad("the part before @ may not start or end with a dot or hold two in a row")
		}
		for _, r := range dot {
			if !isAtext(r) {
				return bad(fmt.Sprintf("%q may not appear before @", r))
			}
		}
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad("each part of the domain must be 1 to 63 letters, digits or inner hyphens")
		}
		for _, r := range l {
			if !(r < utf8.RuneSelf && (isAlnum(byte(r)) || r == '-')) {
				return bad(fmt.Sprintf("%q may not appear in the domain", r))
			}
		}
	}
	return UserID(strings.ToLower(a)), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isAtext is RFC 5322's atext: what an unquoted local part may hold.
func isAtext(r rune) bool {
	return r < utf8.RuneSelf && (isAlnum(byte(r)) || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r))
}

// ParseUsers checks a list of e-mail addresses, drops repeats and keeps order.
func ParseUsers(field string, emails []string) ([]UserID, error) {
	if len(emails) > MaxList {
		return nil, Invalidf("invalid-"+field, "%s may name at most %d people", field, MaxList)
	}
	out := make([]UserID, 0, len(emails))
	seen := make(map[UserID]bool, len(emails))
	for _, e := range emails {
		u, err := ParseUser(e)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

// ParseID checks an identifier (of a device, project, item, node, member, job
// or cloud project): 1 to MaxID letters, digits and . _ : + -, starting
// with a letter or digit, surrounding white space trimmed. Identifiers keep
// their case; they never hold '/', white space or anything invisible, so
// they can stand in a path segment and a read-model key as they are.
func ParseID(field, id string) (string, error) {
	v := strings.TrimSpace(id)
	if v == "" {
		return "", Invalidf("missing-"+field, "%s is required", field)
	}
	if len(v) > MaxID {
		return "", Invalidf("invalid-"+field, "%s is longer than %d characters", field, MaxID)
	}
	if !isAlnum(v[0]) {
		return "", Invalidf("invalid-"+field, "%s %s must start with a letter or digit", field, Quote(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune("._:+-", rune(c)) {
			return "", Invalidf("invalid-"+field, "%s %s may hold only letters, digits and . _ : + -", field, Quote(v))
		}
	}
	return v, nil
}

// RequireText trims a free-text field and refuses it when empty, longer than
// max characters, or holding control characters or bidirectional
// overrides (which make a stored name display as something else).
func RequireText(field, value string, max int) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", Invalidf("missing-"+field, "%s is required", field)
	}
	return v, checkText(field, v, max, false)
}

// OptionalLine is RequireText for a field that may be empty.
func OptionalLine(field, value string, max int) (string, error) {
	v := strings.TrimSpace(value)
	return v, checkText(field, v, max, false)
}

// OptionalText is free text of several lines that may be empty (a message):
// line breaks and tabs are allowed, other control characters are not.
func OptionalText(field, value string, max int) (string, error) {
	v := strings.TrimSpace(value)
	return v, checkText(field, v, max, true)
}

// RequireName is RequireText for a name that also names something in a
// path (a role, a stylesheet): it may not hold '/'.
func RequireName(field, value string) (string, error) {
	v, err := RequireText(field, value, MaxName)
	if err == nil && strings.ContainsRune(v, '/') {
		err = Invalidf("invalid-"+field, "%s may not hold '/'", field)
	}
	return v, err
}

func checkText(field, v string, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return Invalidf("invalid-"+field, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return Invalidf("invalid-"+field, "%s is longer than %d characters", field, max)
	}
	for _, r := range v {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError || r == '\uFEFF' {
			return Invalidf("invalid-"+field, "%s may not hold control characters or text-direction overrides (found U+%04X)", field, r)
		}
	}
	return nil
}

// isBidiControl is true for the embeddings, overrides and isolates that can
// make a stored name display as another (the "Trojan Source" characters).
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069' || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// Quote shows a refused value in an error message, cut short: an error must
// not echo a 100 KB input back.
func Quote(s string) string {
	const most = 80
	if len(s) <= most {
		return fmt.Sprintf("%q", s)
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
