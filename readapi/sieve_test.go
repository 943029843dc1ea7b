package readapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain/rights"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
)

// The search's sieve never passes over a subuser the search matches: it
// looks at the stored text only where that text holds the name and the
// address as they are.
func TestTheSearchSieveKeepsEveryMatch(t *testing.T) {
	users := []rightsmodel.User{
		{Subuser: rights.Subuser{ID: "ann@acme.test"}, Name: "Ann Ärger"},
		{Subuser: rights.Subuser{ID: "bob@acme.test"}, Name: `Bob "the builder" <B&B>`},
		{Subuser: rights.Subuser{ID: "cy@acme.test"}, Name: "CY"},
	}
	for _, search := range []string{"ann", "ärger", "ÄRGER", "acme", "the builder", `"the`, "<b&b>", "b&b", "cy", "zed", "@"} {
		lowered := strings.ToLower(search)
		s := sieve(lowered)
		for _, u := range users {
			doc, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			matches := strings.Contains(strings.ToLower(u.Name), lowered) || strings.Contains(string(u.ID), lowered)
			if matches && s != nil && !s(doc) {
				t.Errorf("searching %q passed over %s, whom it matches (stored as %s)", search, u.ID, doc)
			}
		}
	}
}
