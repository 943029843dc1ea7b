package projections

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Kept is a document that a transaction holds until it ends: the value a
// projection put, kept decoded (a copy that the transaction owns) where
// its type is plain JSON, or else its JSON. A page of events that reads,
// changes and writes the same document many times then decodes it and
// encodes it once each, where JSON decoding was half of a catch-up's time
// (docs/benchmarks.md).
//
// Plain means that a copy of the value is what decoding its JSON into a
// zero value would give: booleans, integers, finite floats, strings of
// valid UTF-8, time.Time in UTC, and slices, arrays, maps with string keys
// structs and pointers of those, with no JSON or text (un)marshalers of
// their own, no interfaces, no type that holds itself, and no fields that
// JSON would drop or rename on the way back (unexported, embedded or "-",
// ",string", names that collide in any letter case). An empty slice or map under omitempty becomes nil,
// as the JSON would. Any other value is encoded when put, as before.
type Kept struct {
	doc []byte        // the JSON, once encoded
	val reflect.Value // the value kept decoded, if plain
}

// Keep is what a transaction holds of v, put: v is copied if it is plain,
// or else encoded (Encode).
func Keep(v any) (Kept, error) {
	if f, ok := v.(Fresh); ok {
		v = f.V
	}
	if _, ok := v.(Encoded); !ok && v != nil {
		src := reflect.ValueOf(v)
		if p := plainOf(src.Type()); p != nil {
			dst := reflect.New(src.Type()).Elem()
			if p.copy(dst, src, false) {
				return Kept{val: dst}, nil
			}
		}
	}
	doc, err := Encode(v)
	return Kept{doc: doc}, err
}

// KeptAs is a Kept holding the JSON doc as it was read or written.
func KeptAs(doc []byte) Kept { return Kept{doc: doc} }

// Decoded says whether the document is kept decoded: its type and value
// are plain.
func (k Kept) Decoded() bool { return k.val.IsValid() }

// Bytes is the document's JSON, encoded once.
func (k *Kept) Bytes() ([]byte, error) {
	if k.doc == nil && k.val.IsValid() {
		doc, err := json.Marshal(k.val.Interface())
		if err != nil {
			return nil, err
		}
		k.doc = doc
	}
	return k.doc, nil
}

// Decode stores the document in v, a pointer, as json.Unmarshal of its
// JSON would: by a copy where it is kept decoded and v points to a zero
// value of its type.
func (k *Kept) Decode(v any) error {
	if k.val.IsValid() {
		if out := reflect.ValueOf(v); out.Kind() == reflect.Pointer && !out.IsNil() && out.Type().Elem() == k.val.Type() && out.Elem().IsZero() {
			plainOf(k.val.Type()).clone(out.Elem(), k.val)
			return nil
		}
	}
	doc, err := k.Bytes()
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, v)
}

// plain is how to copy values of a plain type.
type plain struct {
	kind   reflect.Kind
	elem   *plain       // of a slice, an array or a map's values
	fields []plainField // of a struct: those a shallow copy does not settle
	flat   bool         // a slice or array of booleans or numbers: copied whole
	time   bool         // time.Time
	// refs says that values hold references (slices, maps, pointers)
	// that a copy must make anew; a copy of one that does not is its
	// shallow copy, once checked.
	refs bool
}

type plainField struct {
	index     int
	omitEmpty bool
	p         *plain
}

var (
	plains     sync.Map // reflect.Type → *plain, or nil for a type that is not
	timeType   = reflect.TypeFor[time.Time]()
	marshalers = []reflect.Type{
		reflect.TypeFor[json.Marshaler](), reflect.TypeFor[json.Unmarshaler](),
		reflect.TypeFor[encoding.TextMarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	}
)

// plainOf is how to copy values of t, or nil if t is not plain.
func plainOf(t reflect.Type) *plain {
	if p, ok := plains.Load(t); ok {
		return p.(*plain)
	}
	p := examine(t, map[reflect.Type]bool{})
	plains.Store(t, p)
	return p
}

// examine decides whether t is plain; seen holds the types being examined.
// A type that holds itself is not: with pointers, its values could hold
// themselves, which JSON refuses and a copy would not end.
func examine(t reflect.Type, seen map[reflect.Type]bool) *plain {
	if seen[t] {
		return nil
	}
	if t == timeType {
		return &plain{kind: reflect.Struct, time: true}
	}
	for _, m := range marshalers {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return nil
		}
	}
	p := &plain{kind: t.Kind()}
	seen[t] = true
	defer delete(seen, t)
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return p
	case reflect.Pointer:
		if p.elem = examine(t.Elem(), seen); p.elem == nil {
			return nil
		}
		p.refs = true
		return p
	case reflect.Slice, reflect.Array:
		if p.elem = examine(t.Elem(), seen); p.elem == nil {
			return nil
		}
		p.refs = t.Kind() == reflect.Slice || p.elem.refs
		switch t.Elem().Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			p.flat = true
		}
		return p
	case reflect.Map:
		if t.Key().Kind() != reflect.String || examine(t.Key(), seen) == nil {
			return nil
		}
		if p.elem = examine(t.Elem(), seen); p.elem == nil {
			return nil
		}
		p.refs = true
		return p
	case reflect.Struct:
		names := map[string]bool{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if !f.IsExported() || f.Anonymous || tag == "-" || strings.Contains(","+opts+",", ",string,") {
				return nil
			}
			if name == "" {
				name = f.Name
			}
			if lower := strings.ToLower(name); names[lower] {
				return nil // JSON matches names in any case
			} else {
				names[lower] = true
			}
			fp := examine(f.Type, seen)
			if fp == nil {
				return nil
			}
			if fp.settled() {
				continue // the struct's shallow copy is the copy
			}
			p.fields = append(p.fields, plainField{index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,"), p: fp})
			p.refs = p.refs || fp.refs
		}
		return p
	}
	return nil // interfaces, channels, functions
}

// copy sets dst, a zero value, to a copy of src as decoding src's JSON
// would give it; omitEmpty says src sits in a field that JSON omits when
// empty. It is false if src holds what JSON would change (a string that
// is not UTF-8, a float that is not finite, a time not in UTC or beyond
// year 9999), leaving dst partly set.
func (p *plain) copy(dst, src reflect.Value, omitEmpty bool) bool {
	switch {
	case p.time:
		t := src.Interface().(time.Time)
		if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
			return false
		}
		dst.Set(reflect.ValueOf(t.Round(0)))
		return true
	case p.kind == reflect.String:
		s := src.String()
		if !utf8.ValidString(s) {
			return false
		}
		dst.SetString(s)
		return true
	case p.kind == reflect.Float32 || p.kind == reflect.Float64:
		f := src.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
		dst.SetFloat(f)
		return true
	case p.kind == reflect.Bool:
		dst.SetBool(src.Bool())
		return true
	case p.kind >= reflect.Int && p.kind <= reflect.Int64:
		dst.SetInt(src.Int())
		return true
	case p.kind >= reflect.Uint && p.kind <= reflect.Uint64:
		dst.SetUint(src.Uint())
		return true
	case p.kind == reflect.Pointer:
		if src.IsNil() {
			return true
		}
		dst.Set(reflect.New(src.Type().Elem()))
		return p.elem.copy(dst.Elem(), src.Elem(), false)
	case p.kind == reflect.Slice:
		if src.IsNil() || (omitEmpty && src.Len() == 0) {
			return true
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		if p.flat {
			reflect.Copy(dst, src)
			return true
		}
		for i := range src.Len() {
			if !p.elem.copy(dst.Index(i), src.Index(i), false) {
				return false
			}
		}
		return true
	case p.kind == reflect.Array:
		for i := range src.Len() {
			if !p.elem.copy(dst.Index(i), src.Index(i), false) {
				return false
			}
		}
		return true
	case p.kind == reflect.Map:
		if src.IsNil() || (omitEmpty && src.Len() == 0) {
			return true
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		v := reflect.New(src.Type().Elem()).Elem()
		for it.Next() {
			if !utf8.ValidString(it.Key().String()) {
				return false
			}
			v.SetZero()
			if !p.elem.copy(v, it.Value(), false) {
				return false
			}
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
		return true
	case p.kind == reflect.Struct:
		// A shallow copy, then what it does not settle: strings and floats
		// checked, what holds references copied again.
		dst.Set(src)
		for _, f := range p.fields {
			s := src.Field(f.index)
			switch f.p.kind {
			case reflect.String:
				if !utf8.ValidString(s.String()) {
					return false
				}
			case reflect.Float32, reflect.Float64:
				if math.IsNaN(s.Float()) || math.IsInf(s.Float(), 0) {
					return false
				}
			default:
				d := dst.Field(f.index)
				d.SetZero()
				if !f.p.copy(d, s, f.omitEmpty) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// clone sets dst, a zero value, to a copy of src, a value that Keep
// copied and checked: only what holds references is made anew, since
// nothing in it is left for JSON to change. Reading a document kept
// decoded copied it as Keep does, checks and all, and those copies were a
// tenth of a catch-up's time (docs/benchmarks.md).
func (p *plain) clone(dst, src reflect.Value) {
	if !p.refs {
		dst.Set(src)
		return
	}
	switch p.kind {
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			p.elem.clone(dst.Elem(), src.Elem())
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		if !p.elem.refs {
			reflect.Copy(dst, src)
			return
		}
		for i := range src.Len() {
			p.elem.clone(dst.Index(i), src.Index(i))
		}
	case reflect.Array:
		for i := range src.Len() {
			p.elem.clone(dst.Index(i), src.Index(i))
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		v := reflect.New(src.Type().Elem()).Elem()
		for it.Next() {
			v.SetZero()
			p.elem.clone(v, it.Value())
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
	case reflect.Struct:
		dst.Set(src)
		for _, f := range p.fields {
			if f.p.refs {
				d := dst.Field(f.index)
				d.SetZero()
				f.p.clone(d, src.Field(f.index))
			}
		}
	}
}

// settled says that a shallow copy of a value of p's type is all of its
// copy: booleans and integers, and structs of those.
func (p *plain) settled() bool {
	switch {
	case p.kind == reflect.Bool, p.kind >= reflect.Int && p.kind <= reflect.Int64, p.kind >= reflect.Uint && p.kind <= reflect.Uint64:
		return true
	case p.kind == reflect.Struct && !p.time:
		return len(p.fields) == 0
	}
	return false
}
