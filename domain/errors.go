package domain

import "fmt"

// Kind says what sort of rule an Error protects; the HTTP layer maps each
// kind to one status code.
type Kind int

const (
	// Invalid input: the command can never succeed as written.
	Invalid Kind = iota + 1
	// NotFound: the command names something that does not exist, or that the
	// caller may not know exists.
	NotFound
	// Forbidden: the caller lacks the right to do this.
	Forbidden
	// Conflict: the command does not fit the current state.
	Conflict
)

// Error is a broken rule with a stable machine-readable code.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is lets errors.Is match a rule error by kind and code, so a rule's sentinel
// matches the same rule raised with a more specific message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// NewError builds a rule error.
func NewError(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Invalidf builds an Invalid error with a formatted message.
func Invalidf(code, format string, args ...any) *Error {
	return NewError(Invalid, code, fmt.Sprintf(format, args...))
}

// Withf returns a copy of a rule error with a more specific message; it still
// matches the original with errors.Is.
func (e *Error) Withf(format string, args ...any) *Error {
	return &Error{Kind: e.Kind, Code: e.Code, Message: fmt.Sprintf(format, args...)}
}
