package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestSubuserSearch searches an account's subusers by name and address on
// every kind of read-model store: short searches read every subuser,
// longer ones the index of grams; both must find exactly the subusers
// whose lowered name or address holds the search, with and without
// pages, and forget a removed one.
func TestSubuserSearch(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			admin := s.as("admin@search.test", "search")
			admin.command("POST", "/v1/accounts", map[string]any{"organization": "Search", "name": "Ada Admin"})
			people := map[string]string{
				"anna@search.test":    "Anna Åström",
				"hannah@search.test":  "Hannah Marsh",
				"bo@search.test":      "Bo",
				"joan@search.test":    "JOAN of Arc",
				"zed@search.test":     "Zed Xanadu",
				"gone@search.test":    "Annabel Gone",
				"b/slash@search.test": "Slash/Dot",
			}
			for email, name := range people {
				admin.command("POST", "/v1/users", map[string]any{"email": email, "name": name, "role": "user"})
			}
			// Someone else's subuser never shows.
			other := s.as("olga@other.test", "other")
			other.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Anna Other"})
			last := admin.command("DELETE", "/v1/users/gone@search.test", nil).Position
			delete(people, "gone@search.test")
			people["admin@search.test"] = "Ada Admin"

			cases := []struct {
				name, search string
			}{
				{"two letters read every subuser", "an"},
				{"a name's part, any case", "ANN"},
				{"across a space", "ah m"},
				{"not the first letters", "nadu"},
				{"an address", "joan@"},
				{"a letter outside ASCII", "åst"},
				{"a slash", "h/do"},
				{"a removed subuser's name", "annabel"},
				{"nothing holds it", "qqq"},
				{"every subuser", "search.test"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					lowered := strings.ToLower(c.search)
					var want []string
					for email, name := range people {
						if strings.Contains(strings.ToLower(name), lowered) || strings.Contains(email, lowered) {
							want = append(want, email)
						}
					}
					slices.Sort(want)
					type page struct {
						Items []struct {
							User string `json:"user"`
						} `json:"items"`
						Next string `json:"next"`
					}
					var whole page
					admin.read("/v1/subusers?limit=500&search="+url.QueryEscape(c.search), last, &whole)
					var got []string
					for _, u := range whole.Items {
						got = append(got, u.User)
					}
					var paged []string
					cursor := ""
					for range 20 {
						var p page
						admin.read("/v1/subusers?limit=1&search="+url.QueryEscape(c.search)+"&cursor="+url.QueryEscape(cursor), last, &p)
						for _, u := range p.Items {
							paged = append(paged, u.User)
						}
						if cursor = p.Next; cursor == "" {
							break
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(paged) != fmt.Sprint(want) {
						t.Errorf("search %q: %v, a row a page %v; want %v", c.search, got, paged, want)
					}
				})
			}
		})
	}
}
