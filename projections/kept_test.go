package projections_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/partners"
)

type (
	label string
	inner struct {
		Label  label            `json:"label"`
		At     time.Time        `json:"at"`
		Counts map[string]int   `json:"counts,omitempty"`
		Flags  []bool           `json:"flags"`
		Ratio  float64          `json:"ratio"`
		Small  float32          `json:"small,omitempty"`
		Bytes  []byte           `json:"bytes"`
		Nested map[label][]uint `json:"nested"`
	}
	outer struct {
		ID    string      `json:"id"`
		N     int64       `json:"n,omitempty"`
		U     uint16      `json:"u"`
		Inner inner       `json:"inner"`
		Ptr   *inner      `json:"ptr,omitempty"`
		List  []inner     `json:"list,omitempty"`
		Names []string    `json:"names"`
		Fixed [3]int8     `json:"fixed"`
		Maybe *string     `json:"maybe"`
		Plain string      // no tag: the field's name
		Times []time.Time `json:"times,omitempty"`
	}
)

// random fills v (a settable value) with random content: nil and empty
// slices and maps, zero and non-zero times, text beyond ASCII.
func random(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// Random bits of the type's width (negative when the top one is
		// set), shifted to small magnitudes as often as large ones.
		bits := v.Type().Bits()
		v.SetInt(int64(r.Uint64()>>(64-bits)) >> r.IntN(bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		v.SetUint(r.Uint64() >> (64 - bits) >> r.IntN(bits))
	case reflect.Float32, reflect.Float64:
		v.SetFloat([]float64{0, -1.5, 1e-7, 3.14159, 1e21, float64(r.IntN(1000)) / 7}[r.IntN(6)])
	case reflect.String:
		v.SetString([]string{"", "a", "Ünïcödé ✓", "line\nbreak \"quoted\" <tag>", "\U0010FFFF", "x/y"}[r.IntN(6)])
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if r.IntN(3) > 0 {
				v.Set(reflect.ValueOf(time.Date(1990+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)))
			}
			return
		}
		for i := range v.NumField() {
			random(r, v.Field(i), depth)
		}
	case reflect.Pointer:
		if depth < 3 && r.IntN(2) == 0 {
			v.Set(reflect.New(v.Type().Elem()))
			random(r, v.Elem(), depth+1)
		}
	case reflect.Slice:
		switch n := r.IntN(4); {
		case n == 0: // nil
		case depth >= 3 || n == 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				random(r, v.Index(i), depth+1)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			random(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		switch n := r.IntN(4); {
		case n == 0:
		case depth >= 3 || n == 1:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			v.Set(reflect.MakeMap(v.Type()))
			for range n {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				random(r, k, depth+1)
				random(r, e, depth+1)
				v.SetMapIndex(k, e)
			}
		}
	}
}

// keptRandom is a random value of typ (random), and what Keep keeps of it.
func keptRandom(t *testing.T, r *rand.Rand, typ reflect.Type) (reflect.Value, projections.Kept) {
	t.Helper()
	v := reflect.New(typ).Elem()
	random(r, v, 0)
	k, err := projections.Keep(v.Interface())
	if err != nil {
		t.Fatal(err)
	}
	return v, k
}

// viaJSON is what a document read back from a store gives: v encoded,
// then decoded into a zero value of its type.
func viaJSON(t *testing.T, v any) (reflect.Value, []byte) {
	t.Helper()
	doc, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := reflect.New(reflect.TypeOf(v))
	if err := json.Unmarshal(doc, out.Interface()); err != nil {
		t.Fatal(err)
	}
	return out.Elem(), doc
}

func TestKeptIsWhatJSONGives(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 7))
	samples := []any{outer{}, inner{}, (*outer)(nil), devices.Device{}, partners.Partner{}, map[string][]string{}, []int{}, "text", 42}
	for _, sample := range samples {
		typ := reflect.TypeOf(sample)
		t.Run(typ.String(), func(t *testing.T) {
			for range 300 {
				v, k := keptRandom(t, r, typ)
				if !k.Decoded() {
					t.Fatalf("%s is not kept decoded", typ)
				}
				want, wantDoc := viaJSON(t, v.Interface())
				got := reflect.New(typ)
				if err := k.Decode(got.Interface()); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Elem().Interface(), want.Interface()) {
					t.Fatalf("kept %#v\nJSON gives %#v", got.Elem().Interface(), want.Interface())
				}
				if doc, err := k.Bytes(); err != nil || string(doc) != string(wantDoc) {
					t.Fatalf("bytes %s, %v; want %s", doc, err, wantDoc)
				}
			}
		})
	}
}

type (
	hidden struct {
		Shown  string `json:"shown"`
		hidden string
	}
	dropped struct {
		Shown   string `json:"shown"`
		Dropped string `json:"-"`
	}
	quoted struct {
		N int `json:"n,string"`
	}
	clash struct {
		A string `json:"name"`
		B string `json:"Name"`
	}
	embeds struct {
		inner
		More string `json:"more"`
	}
	anything struct {
		V any `json:"v"`
	}
	raw struct {
		Doc json.RawMessage `json:"doc"`
	}
	selfish struct {
		Next *selfish `json:"next"`
	}
)

func TestKeptFallsBackToJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"an unexported field", hidden{Shown: "a", hidden: "b"}},
		{"a field JSON drops", dropped{Shown: "a", Dropped: "b"}},
		{"a quoted number", quoted{N: 3}},
		{"names that differ by case only", clash{A: "a", B: "b"}},
		{"an embedded struct", embeds{More: "m"}},
		{"an interface", anything{V: 1}},
		{"a type that marshals itself", raw{Doc: json.RawMessage(`{"a": 1}`)}},
		{"a type that holds itself", selfish{Next: &selfish{}}},
		{"a string that is not UTF-8", outer{ID: "bad \xff"}},
		{"a map key that is not UTF-8", inner{Counts: map[string]int{"\xfe": 1}}},
		{"a time outside UTC", inner{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}},
		{"already encoded", projections.Encoded(`{"a":1}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := projections.Keep(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if k.Decoded() {
				t.Fatalf("%T kept decoded", tc.v)
			}
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if doc, _ := k.Bytes(); string(doc) != string(want) && tc.name != "already encoded" {
				t.Fatalf("bytes %s, want %s", doc, want)
			}
		})
	}
	// A float JSON cannot hold fails when put, as before.
	if _, err := projections.Keep(inner{Ratio: math.NaN()}); err == nil {
		t.Fatal("a NaN was kept")
	}
}

func TestKeptIsACopy(t *testing.T) {
	s := "maybe"
	v := outer{ID: "a", Names: []string{"x"}, Inner: inner{Counts: map[string]int{"c": 1}}, Ptr: &inner{Label: "p"}, Maybe: &s}
	k, err := projections.Keep(v)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(v)
	// Changing what was put, or what was read, changes nothing kept.
	v.Names[0], v.Inner.Counts["c"], v.Ptr.Label, s = "changed", 2, "changed", "changed"
	var got outer
	if err := k.Decode(&got); err != nil {
		t.Fatal(err)
	}
	got.Names[0], got.Inner.Counts["c"], got.Ptr.Label, *got.Maybe = "again", 3, "again", "again"
	var again outer
	if err := k.Decode(&again); err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(again); string(after) != string(before) {
		t.Fatalf("kept %s, put %s", after, before)
	}
	// Decoding into a value that holds something merges, as JSON does.
	merged := outer{ID: "old", Plain: "kept"}
	k2, _ := projections.Keep(outer{ID: "new"})
	if err := k2.Decode(&merged); err != nil || merged.ID != "new" || merged.Plain != "" {
		// outer's Plain has no omitempty: JSON sets it to "".
		t.Fatalf("merged %+v, %v", merged, err)
	}
	var other map[string]any
	if err := k2.Decode(&other); err != nil || other["id"] != "new" {
		t.Fatalf("into another type: %v, %v", other, err)
	}
}

// scribble changes everything v reaches: every element, value and pointee
// it holds, and itself.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.String:
		v.SetString(v.String() + " scribbled")
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
			return
		}
		for i := range v.NumField() {
			scribble(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			scribble(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scribble(e)
			v.SetMapIndex(k, e)
		}
	}
}

// What a document read from a Kept reaches is its reader's own: changing
// all of it, deep in slices, maps and pointers, changes nothing the next
// reader gets, for random values of every plain type the tests know.
func TestKeptReadsAreCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	for _, sample := range []any{outer{}, inner{}, devices.Device{}, partners.Partner{}, map[string][]string{}, []*inner{}} {
		typ := reflect.TypeOf(sample)
		for range 300 {
			_, k := keptRandom(t, r, typ)
			want, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			want = append([]byte(nil), want...)
			for range 2 {
				got := reflect.New(typ)
				if err := k.Decode(got.Interface()); err != nil {
					t.Fatal(err)
				}
				scribble(got.Elem())
			}
			again := reflect.New(typ)
			if err := k.Decode(again.Interface()); err != nil {
				t.Fatal(err)
			}
			if doc, _ := json.Marshal(again.Interface()); string(doc) != string(want) {
				t.Fatalf("%s: a reader's changes reached the kept document:\n%s\nwant\n%s", typ, doc, want)
			}
		}
	}
}

// BenchmarkKeptDevice: a device's page read and written back as a page of
// events does (a Kept decoded into a fresh value, changed, kept again).
//
//	go test -run '^$' -bench KeptDevice -benchmem ./projections/
func BenchmarkKeptDevice(b *testing.B) {
	at := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	owner := devices.AccountRef{ID: "rent1", Organization: "Rent One"}
	d := devices.Device{ID: "dev-1", Serial: "S-1", Name: "Rover", Source: "own", Owner: owner, Shared: true,
		ActiveAccounts: []devices.AccountRef{{ID: "build1", Organization: "Build One"}, {ID: "build2", Organization: "Build Two"}},
		Credentials:    "login", CredentialsOwner: owner, Projects: []devices.ProjectRef{{ID: "site", Name: "Site"}, {ID: "yard", Name: "Yard"}},
		LastTransfer: &devices.Transfer{Design: "deck.dxf", Project: "site", By: "crew@build1.test", At: at}}
	k, err := projections.Keep(d)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var got devices.Device
		if err := k.Decode(&got); err != nil {
			b.Fatal(err)
		}
		got.LastTransfer = &devices.Transfer{Design: "next.dxf", Project: "site", By: "crew@build1.test", At: at}
		if k, err = projections.Keep(got); err != nil {
			b.Fatal(err)
		}
	}
}
