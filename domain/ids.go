package domain

import (
	"net/mail"
	"regexp"
	"strings"
)

// AccountID identifies an account. It is the account's short organization
// name folded to lower case, which makes the name unique without a separate
// index: two accounts whose names differ only in case are the same stream.
type AccountID string

// UserID identifies a person: their e-mail address in lower case.
type UserID string

var orgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$`)

// ParseOrganization checks a short organization name and returns the account
// identifier it stands for.
func ParseOrganization(name string) (AccountID, error) {
	name = strings.TrimSpace(name)
	if !orgName.MatchString(name) {
		return "", Invalidf("invalid-organization", "short organization name %q must be 2 to 32 letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	return AccountID(strings.ToLower(name)), nil
}

// ParseUser checks an e-mail address and returns the user it identifies.
func ParseUser(email string) (UserID, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
		return "", Invalidf("invalid-email", "%q is not a plain e-mail address", email)
	}
	return UserID(strings.ToLower(a.Address)), nil
}

// ParseUsers checks a list of e-mail addresses, drops repeats and keeps order.
func ParseUsers(emails []string) ([]UserID, error) {
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

// RequireText trims a free-text field and refuses it when empty or too long.
func RequireText(field, value string, max int) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", Invalidf("missing-"+field, "%s is required", field)
	}
	if len(v) > max {
		return "", Invalidf("invalid-"+field, "%s is longer than %d characters", field, max)
	}
	return v, nil
}
