package team

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shareledger/shareledger/domain"
)

// RowProblem is a CSV row that cannot be used, or that repeats another.
type RowProblem struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// Import is a parsed invitation file: the invitations, the rows that are
// wrong, and the rows that repeat an earlier one (left out, not errors).
type Import struct {
	Invitations []Invitation
	Problems    []RowProblem
	Duplicates  []RowProblem
}

// ErrBadCSV: the file has rows that cannot be used; nothing is invited.
var ErrBadCSV = domain.Invalidf("invalid-csv", "the file has rows that cannot be used; nothing was invited")

// ParseCSV reads "email, group, role" rows (the group is ignored and may be
// empty; a first row naming the columns is skipped). Every row is checked
// before anything is used.
func ParseCSV(r io.Reader, maxRows int) (Import, error) {
	rd := csv.NewReader(r)
	rd.FieldsPerRecord = -1
	rd.TrimLeadingSpace = true
	var out Import
	seen := map[domain.UserID]int{}
	for n := 1; ; n++ {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The line the file's reader stopped at, as an editor counts.
			line := n
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			out.Problems = append(out.Problems, RowProblem{Line: line, Reason: err.Error()})
			continue
		}
		// Lines are the file's own (blank lines and quoted line breaks
		// counted), so that a person finds the row in an editor.
		line, _ := rd.FieldPos(0)
		if n == 1 && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "email") {
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if maxRows > 0 && len(out.Invitations)+len(out.Problems)+len(out.Duplicates) >= maxRows {
			return out, domain.Invalidf("csv-too-large", "the file has more than %d rows", maxRows)
		}
		email := ""
		if len(rec) > 0 {
			email = strings.TrimSpace(rec[0])
		}
		shown := email // what the report repeats of the row, bounded
		if len(shown) > domain.MaxEmail {
			shown = strings.ToValidUTF8(shown[:domain.MaxEmail], "") + "…"
		}
		if len(rec) != 3 {
			out.Problems = append(out.Problems, RowProblem{Line: line, Email: shown, Reason: fmt.Sprintf("want 3 fields (email, group, role), found %d", len(rec))})
			continue
		}
		user, err := domain.ParseUser(email)
		if err != nil {
			out.Problems = append(out.Problems, RowProblem{Line: line, Email: shown, Reason: err.Error()})
			continue
		}
		role, err := ParseRole(rec[2])
		if err != nil {
			out.Problems = append(out.Problems, RowProblem{Line: line, Email: shown, Reason: err.Error()})
			continue
		}
		if first, ok := seen[user]; ok {
			out.Duplicates = append(out.Duplicates, RowProblem{Line: line, Email: shown, Reason: fmt.Sprintf("repeats line %d", first)})
			continue
		}
		seen[user] = line
		out.Invitations = append(out.Invitations, Invitation{Email: user, Role: role})
	}
	if len(out.Problems) > 0 {
		return out, ErrBadCSV.Withf("%d rows of the file cannot be used; nothing was invited", len(out.Problems))
	}
	return out, nil
}
