package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
)

// The domain is the ground floor: it may import only the standard library
// and itself.
func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/shareledger/shareledger/domain") {
			t.Errorf("domain depends on %s", p)
		}
	}
}

type noteV1 struct {
	Text string `json:"text"`
}

func (noteV1) EventType() string { return "Noted" }
func (noteV1) EventVersion() int { return 1 }

type noteV3 struct {
	Text   string `json:"text"`
	Author string `json:"author"`
	Tags   []string
}

func (noteV3) EventType() string { return "Noted" }
func (noteV3) EventVersion() int { return 3 }

func TestRegistryUpcastsOldVersions(t *testing.T) {
	r := domain.NewRegistry()
	domain.Register[noteV3](r)
	r.Upcast("Noted", 1, func(b []byte) ([]byte, error) {
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		v["author"] = "unknown"
		return json.Marshal(v)
	})
	r.Upcast("Noted", 2, func(b []byte) ([]byte, error) {
		return bytes.Replace(b, []byte(`"author"`), []byte(`"Tags":[],"author"`), 1), nil
	})
	cases := []struct {
		name    string
		typ     string
		version int
		data    string
		want    domain.Event
		wantErr bool
	}{
		{"today's version", "Noted", 3, `{"text":"a","author":"ann","Tags":["x"]}`, noteV3{Text: "a", Author: "ann", Tags: []string{"x"}}, false},
		{"version 1 upcast twice", "Noted", 1, `{"text":"old"}`, noteV3{Text: "old", Author: "unknown", Tags: []string{}}, false},
		{"a newer version than known", "Noted", 4, `{}`, nil, true},
		{"an unknown type", "Unknown", 1, `{}`, nil, true},
		{"a broken payload", "Noted", 3, `{`, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.Decode(c.typ, c.version, []byte(c.data))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if !c.wantErr {
				g, w := got.(noteV3), c.want.(noteV3)
				if g.Text != w.Text || g.Author != w.Author || len(g.Tags) != len(w.Tags) {
					t.Fatalf("decoded %#v, want %#v", got, c.want)
				}
			}
		})
	}
}

func TestRegistryRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	r := domain.NewRegistry()
	domain.Register[noteV1](r)
	domain.Register[noteV3](r)
}

// Every stored event type round-trips through the catalog by its name.
func TestCatalogNamesAreStable(t *testing.T) {
	want := []string{
		"AccountOpened", "BaseStationServiceStarted", "CategoryMadePrivate", "CategoryMadePublic", "CloudProjectCreated",
		"CloudProjectDeleted", "CloudProjectRenamed", "CollectionCreated", "CollectionDeleted", "CollectionRenamed", "IdentityCreated", "JobAssigned", "JobCreated",
		"JobDeleted", "JobUnassigned", "JobUpdated", "MemberInvited", "MemberRoleChanged", "ProjectAccessed",
		"StylesheetAdded", "StylesheetRemoved", "TeamMemberRemoved",
		"DesignSentToDevice", "DeviceAssignedToProject", "DeviceDeleted", "DeviceRegistered", "DeviceSharedWithPartner",
		"DeviceUnassignedFromProject", "DeviceUnsharedFromPartner", "DirectRightsSet", "FleetMadePrivate", "FleetMadePublic",
		"MemberAdded", "MemberPlaced", "MemberRemoved", "MemberShareRevoked", "MemberSharedPrivately", "NodeAdded", "NodeDeleted", "NodeMoved",
		"PartnerApproved", "PartnerDeclined", "PartnerRequestWithdrawn", "PartnerRequested", "PartnershipEnded",
		"PrivateShareRevoked", "ProjectCreated", "ReportMadePrivate", "ReportMadePublic", "RoleAssigned", "RoleDefined",
		"RoleDeleted", "RoleUnassigned", "SharedPrivately", "TeamMadePrivate", "TeamMadePublic", "UserAdded", "UserRemoved", "UserRoleChanged",
	}
	sort.Strings(want)
	got := catalog.New().Names()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stored event names changed:\n got %v\nwant %v", got, want)
	}
}

func TestParseUser(t *testing.T) {
	cases := []struct {
		in   string
		want domain.UserID
		ok   bool
	}{
		{"Alice@ACME.test", "alice@acme.test", true},
		{" bob@x.test ", "bob@x.test", true},
		{"Bob <bob@x.test>", "", false},
		{"not-an-email", "", false},
	}
	for _, c := range cases {
		got, err := domain.ParseUser(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseUser(%q) = %q, %v", c.in, got, err)
		}
		var de *domain.Error
		if err != nil && !errors.As(err, &de) {
			t.Errorf("ParseUser(%q): error %v is not a rule error", c.in, err)
		}
	}
}

func TestParseUserNormalForm(t *testing.T) {
	long := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".longer.example"
	cases := []struct {
		in   string
		want domain.UserID
	}{
		{"ann@acme.example", "ann@acme.example"},
		{"Ann@ACME.example", "ann@acme.example"},
		{"\t ann@acme.example \n", "ann@acme.example"},
		{"o'neil+fleet@acme.example", "o'neil+fleet@acme.example"},
		{"ann@localhost", "ann@localhost"},
		{"", ""},
		{"   ", ""},
		{"<ann@acme.example>", ""},
		{"Ann <ann@acme.example>", ""},
		{"ann@acme.example (Ann)", ""},
		{`"ann"@acme.example`, ""},
		{"ann@@acme.example", ""},
		{"ann@acme..example", ""},
		{".ann@acme.example", ""},
		{"ann@-acme.example", ""},
		{"ann\x00@acme.example", ""},
		{"ann@acme.example\u202e", ""},
		{"anné@acme.example", ""},
		{long, ""},
		{strings.Repeat("a", 65) + "@acme.example", ""},
	}
	for _, c := range cases {
		got, err := domain.ParseUser(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseUser(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("ParseUser(%q): the error echoes the whole input (%d bytes)", c.in, len(err.Error()))
		}
	}
}

func TestParseIDAndText(t *testing.T) {
	ids := []struct {
		in, want string
	}{
		{"truck-7", "truck-7"},
		{" hq ", "hq"},
		{"6f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11", "6f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11"},
		{"a.b_c:d+e", "a.b_c:d+e"},
		{"", ""},
		{"-lead", ""},
		{"a/b", ""},
		{"a b", ""},
		{"ann@acme.example", ""},
		{strings.Repeat("x", domain.MaxID), strings.Repeat("x", domain.MaxID)},
		{strings.Repeat("x", domain.MaxID+1), ""},
	}
	for _, c := range ids {
		got, err := domain.ParseID("node", c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseID(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	texts := []struct {
		in   string
		ok   bool
		want string
	}{
		{" North fleet ", true, "North fleet"},
		{"Bagger Süd — 2", true, "Bagger Süd — 2"},
		{strings.Repeat("ü", domain.MaxName), true, strings.Repeat("ü", domain.MaxName)},
		{strings.Repeat("ü", domain.MaxName+1), false, ""},
		{"", false, ""},
		{"tab\tinside", false, ""},
		{"nul\x00", false, ""},
		{"evil\u202Egpj.exe", false, ""},
		{"isolate\u2066x", false, ""},
		{"bom\uFEFF", false, ""},
	}
	for _, c := range texts {
		got, err := domain.RequireText("name", c.in, domain.MaxName)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("RequireText(%q) = %q, %v", c.in, got, err)
		}
		var de *domain.Error
		if err != nil && (!errors.As(err, &de) || de.Kind != domain.Invalid) {
			t.Errorf("RequireText(%q): %v is not an invalid-input rule error", c.in, err)
		}
	}
	if _, err := domain.OptionalText("message", "line one\nline two", domain.MaxText); err != nil {
		t.Errorf("a message of two lines: %v", err)
	}
}

// FuzzParsers: whatever the input, an accepted value is bounded, in its
// normal form (parsing it again gives it back) and free of what a stored
// name may not hold.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"ann@acme.example", " Ann@ACME.example ", "<a@b>", "truck-7", "a/b", "Nord\u202e", "x\x00y", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if u, err := domain.ParseUser(s); err == nil {
			if again, err := domain.ParseUser(string(u)); err != nil || again != u || len(u) > domain.MaxEmail {
				t.Fatalf("ParseUser(%q) = %q, not a fixed point (%v)", s, u, err)
			}
		}
		if id, err := domain.ParseID("id", s); err == nil {
			if again, err := domain.ParseID("id", id); err != nil || again != id || len(id) > domain.MaxID || strings.ContainsAny(id, "/@ \x00") {
				t.Fatalf("ParseID(%q) = %q", s, id)
			}
		}
		if name, err := domain.RequireText("name", s, domain.MaxName); err == nil {
			if again, err := domain.RequireText("name", name, domain.MaxName); err != nil || again != name || strings.ContainsAny(name, "\x00\u202e\n") {
				t.Fatalf("RequireText(%q) = %q", s, name)
			}
		}
		if acc, err := domain.ParseOrganization(s); err == nil && (len(acc) > 32 || strings.ToLower(string(acc)) != string(acc)) {
			t.Fatalf("ParseOrganization(%q) = %q", s, acc)
		}
	})
}
