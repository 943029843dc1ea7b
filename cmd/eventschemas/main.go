// Command eventschemas publishes the contract of every stored event: a JSON
// Schema for every version of every event type, generated from the Go types
// the registry decodes (and, for older versions, the types that describe
// them), with the doc comment of each type as its description.
//
// It writes readapi/events.schema.json (which the service serves at
// /v1/schemas/events), one file per version under docs/events/, and
// docs/events/index.md. docs/events/sealed.txt holds a fingerprint of each
// published schema: a version once published never changes, so a type that
// changes without a new version is refused here and fails the tests.
//
//	go run ./cmd/eventschemas            # from the repository's root
//	go run ./cmd/eventschemas -check     # verify only
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/projections/relay"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	check := flag.Bool("check", false, "verify that the published files are current; write nothing")
	flag.Parse()
	files, err := generate(*root)
	if err == nil {
		err = publish(*root, files, *check)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eventschemas:", err)
		os.Exit(1)
	}
}

// Event is one version of one event type as published.
type Event struct {
	Type        string         `json:"type"`
	Version     int            `json:"version"`
	Current     bool           `json:"current"`
	Description string         `json:"description"`
	Schema      map[string]any `json:"schema"`
}

// fingerprint identifies what a schema says, without its words: the
// description may be reworded, the shape never.
func (e Event) fingerprint() string {
	shape := map[string]any{}
	for k, v := range e.Schema {
		if k != "description" && k != "title" {
			shape[k] = v
		}
	}
	b, _ := json.Marshal(shape) // maps marshal with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// generated is every file the command writes, by path from the root.
type generated struct {
	events []Event
	files  map[string][]byte
}

// generate builds the schemas from the registry and the doc comments under
// root/domain.
func generate(root string) (generated, error) {
	docs, err := comments(filepath.Join(root, "domain"))
	if err != nil {
		return generated{}, err
	}
	var out generated
	out.files = map[string][]byte{}
	for _, s := range catalog.New().Stored() {
		if s.Type == nil {
			return out, fmt.Errorf("%s version %d has no Go type: describe it with domain.Past", s.Name, s.Version)
		}
		schema, err := schemaOf(s.Type, map[reflect.Type]bool{})
		if err != nil {
			return out, fmt.Errorf("%s v%d: %w", s.Name, s.Version, err)
		}
		desc := docs[s.Type.PkgPath()+"."+s.Type.Name()]
		if desc == "" {
			return out, fmt.Errorf("%s v%d: type %s has no doc comment to describe it", s.Name, s.Version, s.Type)
		}
		schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
		schema["$id"] = relay.SchemaID(s.Name, s.Version)
		schema["title"] = fmt.Sprintf("%s, version %d", s.Name, s.Version)
		schema["description"] = desc
		e := Event{Type: s.Name, Version: s.Version, Current: s.Current, Description: desc, Schema: schema}
		out.events = append(out.events, e)
		out.files[filepath.Join("docs", "events", fmt.Sprintf("%s.v%d.schema.json", s.Name, s.Version))] = encode(schema)
	}
	out.files[filepath.Join("readapi", "events.schema.json")] = encode(map[string]any{"events": out.events})
	out.files[filepath.Join("docs", "events", "asyncapi.json")] = encode(asyncAPI(out.events))
	out.files[filepath.Join("docs", "events", "index.md")] = index(out.events)
	return out, nil
}

// asyncAPI describes the NATS relay (--relay): one subject, one message per
// event, whose headers name its type, version and schema and whose payload
// is the event's data.
func asyncAPI(events []Event) map[string]any {
	header := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	headers := map[string]any{
		"type": "object",
		"properties": map[string]any{
			relay.KeyType:          header("the event's type"),
			relay.KeyVersion:       header("the version of the event's type"),
			relay.KeySchema:        header("the $id of the event's JSON Schema (GET /v1/schemas/events, docs/events/)"),
			relay.KeyStream:        header("the stream the event is in"),
			relay.KeyRevision:      header("its revision in the stream"),
			relay.KeyPosition:      header("its position in the log"),
			relay.KeyUser:          header("who did it"),
			relay.KeyAccount:       header("the account they acted for"),
			relay.KeyCommandID:     header("the command that caused it"),
			relay.KeyCorrelationID: header("the correlation id of the request"),
		},
	}
	messages := map[string]any{}
	refs := []any{}
	for _, e := range events {
		if !e.Current {
			continue // the relay publishes what the log holds; today's writes are current versions
		}
		name := fmt.Sprintf("%s.v%d", e.Type, e.Version)
		messages[name] = map[string]any{
			"name": e.Type, "title": e.Type, "summary": e.Description, "contentType": "application/json",
			"headers": headers, "payload": map[string]any{"$ref": fmt.Sprintf("%s.v%d.schema.json", e.Type, e.Version)},
		}
		refs = append(refs, map[string]any{"$ref": "#/channels/events/messages/" + name})
	}
	return map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{"title": "ShareLedger event relay", "version": "1",
			"description": "Every stored event, in log order, published to NATS JetStream when the service runs with --relay. The message id is the event's id, so JetStream drops duplicates; older versions of an event may be relayed as the log holds them (see docs/events/index.md)."},
		"channels":   map[string]any{"events": map[string]any{"address": relay.Topic, "messages": messages}},
		"operations": map[string]any{"receiveEvents": map[string]any{"action": "receive", "channel": map[string]any{"$ref": "#/channels/events"}, "messages": refs}},
	}
}

func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Bytes()
}

func index(events []Event) []byte {
	var b strings.Builder
	b.WriteString("# Stored events\n\nGenerated by `go run ./cmd/eventschemas` from the Go types; do not edit. ")
	b.WriteString("How to read and fold them: [README.md](README.md).\n\n| event | version | what it records | schema |\n| --- | --- | --- | --- |\n")
	for _, e := range events {
		cur := ""
		if !e.Current {
			cur = " (upcast when read)"
		}
		fmt.Fprintf(&b, "| `%s` | %d%s | %s | [schema](%s.v%d.schema.json) |\n", e.Type, e.Version, cur,
			strings.ReplaceAll(strings.Join(strings.Fields(e.Description), " "), "|", "\\|"), e.Type, e.Version)
	}
	return []byte(b.String())
}

// sealedFile lists the fingerprint of each published version.
var sealedFile = filepath.Join("docs", "events", "sealed.txt")

// seal reads the sealed fingerprints and says which published versions
// changed; it returns the file with the new versions added.
func seal(root string, events []Event) ([]byte, error) {
	old, err := os.ReadFile(filepath.Join(root, sealedFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sealed := map[string]string{}
	var lines []string
	for _, l := range strings.Split(string(old), "\n") {
		if f := strings.Fields(l); len(f) == 3 && !strings.HasPrefix(l, "#") {
			sealed[f[0]+" "+f[1]] = f[2]
			lines = append(lines, l)
		}
	}
	var changed []string
	for _, e := range events {
		key := fmt.Sprintf("%s %d", e.Type, e.Version)
		fp := e.fingerprint()
		switch was, ok := sealed[key]; {
		case !ok:
			lines = append(lines, key+" "+fp)
		case was != fp:
			changed = append(changed, fmt.Sprintf("%s version %d", e.Type, e.Version))
		}
	}
	if len(changed) > 0 {
		return nil, fmt.Errorf("published event versions changed: %s; a stored event's meaning never changes: add a version, its Go type, and an upcaster from the one before",
			strings.Join(changed, ", "))
	}
	sort.Strings(lines)
	head := "# The fingerprint of every published event version (go run ./cmd/eventschemas adds new ones and refuses changed ones).\n"
	return []byte(head + strings.Join(lines, "\n") + "\n"), nil
}

// publish writes (or, with check, compares) every generated file.
func publish(root string, g generated, check bool) error {
	sealed, err := seal(root, g.events)
	if err != nil {
		return err
	}
	g.files[sealedFile] = sealed
	var stale []string
	for path, want := range g.files {
		full := filepath.Join(root, path)
		have, err := os.ReadFile(full)
		if err == nil && bytes.Equal(have, want) {
			continue
		}
		if check {
			stale = append(stale, path)
			continue
		}
		if err := os.WriteFile(full, want, 0o644); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		return fmt.Errorf("not current (run go run ./cmd/eventschemas): %s", strings.Join(stale, ", "))
	}
	return nil
}

// comments reads the doc comment of every type declared under dir, by
// package path and name.
func comments(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(dir), path)
		if err != nil {
			return err
		}
		importPath := "github.com/shareledger/shareledger/" + filepath.ToSlash(rel)
		fset := token.NewFileSet()
		for _, entry := range entries {
			name := entry.Name()
			if entry.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(path, name), nil, parser.ParseComments)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					text := ts.Doc.Text()
					if text == "" {
						text = gd.Doc.Text()
					}
					out[importPath+"."+ts.Name.Name] = strings.TrimSpace(new(doc.Package).Synopsis(text) + rest(text))
				}
			}
		}
		return nil
	})
	return out, err
}

// rest is a comment after its first sentence, joined into one line.
func rest(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	syn := new(doc.Package).Synopsis(text)
	return strings.TrimPrefix(text, syn)
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	enumerated    = reflect.TypeFor[domain.Enumerated]()
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
)

// schemaOf is the JSON Schema of what encoding/json makes of a value of
// type t.
func schemaOf(t reflect.Type, seen map[reflect.Type]bool) (map[string]any, error) {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case t == rawType:
		return map[string]any{}, nil
	case t.Implements(enumerated) && t.Implements(textMarshaler):
		names := reflect.Zero(t).Interface().(domain.Enumerated).EnumNames()
		return map[string]any{"type": "string", "enum": names}, nil
	case t.Implements(textMarshaler):
		return nil, fmt.Errorf("%s is stored as text: say which texts with domain.Enumerated", t)
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice, reflect.Array:
		items, err := schemaOf(t.Elem(), seen)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []string{"array", "null"}, "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map %s: only text keys", t)
		}
		values, err := schemaOf(t.Elem(), seen)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": values}, nil
	case reflect.Pointer:
		inner, err := schemaOf(t.Elem(), seen)
		if err != nil {
			return nil, err
		}
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}, nil
	case reflect.Struct:
		if seen[t] {
			return nil, fmt.Errorf("%s refers to itself", t)
		}
		seen[t] = true
		defer delete(seen, t)
		props := map[string]any{}
		required := []string{}
		if err := fields(t, seen, props, &required); err != nil {
			return nil, err
		}
		sort.Strings(required)
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}, nil
	}
	return nil, fmt.Errorf("%s: no JSON Schema for kind %s", t, t.Kind())
}

// fields adds the JSON fields of struct t, embedded structs inlined.
func fields(t reflect.Type, seen map[reflect.Type]bool, props map[string]any, required *[]string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := fields(f.Type, seen, props, required); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		s, err := schemaOf(f.Type, seen)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	return nil
}
