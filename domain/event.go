package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Event is a fact the domain recorded. Its stored name and schema version are
// explicit so that renaming a Go type never orphans stored events.
type Event interface {
	EventType() string
	EventVersion() int
}

// Upcaster turns the payload of one schema version into the next version's.
type Upcaster func(data []byte) ([]byte, error)

type entry struct {
	version  int
	decode   func([]byte) (Event, error)
	upcaster map[int]Upcaster     // from version -> next version
	types    map[int]reflect.Type // the Go type of each version
}

// Enumerated is a value stored as one of a fixed set of names (a rights
// level, a role): its published schema lists them.
type Enumerated interface {
	EnumNames() []string
}

// Registry maps stored event names to Go types and upcasts older versions. It
// is built at start-up and passed to whoever decodes events.
type Registry struct {
	types map[string]*entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*entry{}} }

// Register adds the event type of E's zero value. Registering a name twice
// panics: that is a programming error found at start-up.
func Register[E Event](r *Registry) {
	var zero E
	name := zero.EventType()
	if _, dup := r.types[name]; dup {
		panic("domain: event type registered twice: " + name)
	}
	if reflect.TypeOf(zero).Kind() == reflect.Pointer {
		panic("domain: register event value types, not pointers: " + name)
	}
	r.types[name] = &entry{
		version:  zero.EventVersion(),
		upcaster: map[int]Upcaster{},
		types:    map[int]reflect.Type{zero.EventVersion(): reflect.TypeOf(zero)},
		decode: func(b []byte) (Event, error) {
			var e E
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, err
			}
			return e, nil
		},
	}
}

// Upcast registers how to turn version from of a stored event into from+1.
func (r *Registry) Upcast(name string, from int, up Upcaster) {
	e, ok := r.types[name]
	if !ok {
		panic("domain: upcaster for unregistered event type " + name)
	}
	e.upcaster[from] = up
}

// Past registers the Go type of an older version of a registered event (its
// EventVersion is that version), for the published schema of what the log
// holds at that version; its upcaster says how it reads today.
func Past[E Event](r *Registry) {
	var zero E
	e, ok := r.types[zero.EventType()]
	if !ok || zero.EventVersion() >= e.version {
		panic("domain: past version of an unregistered event, or not past: " + zero.EventType())
	}
	e.types[zero.EventVersion()] = reflect.TypeOf(zero)
}

// Stored is one version of one event type as the log may hold it.
type Stored struct {
	Name    string
	Version int
	Current bool
	Type    reflect.Type // nil: no Go type describes this version
}

// Stored lists every version of every event type, by name then version.
func (r *Registry) Stored() []Stored {
	var out []Stored
	for _, name := range r.Names() {
		e := r.types[name]
		for v := 1; v <= e.version; v++ {
			out = append(out, Stored{Name: name, Version: v, Current: v == e.version, Type: e.types[v]})
		}
	}
	return out
}

// Decode turns a stored payload into today's event, upcasting older versions.
func (r *Registry) Decode(name string, version int, data []byte) (Event, error) {
	e, ok := r.types[name]
	if !ok {
		return nil, fmt.Errorf("decode event: unknown type %q", name)
	}
	if version > e.version {
		return nil, fmt.Errorf("decode event %s: stored version %d is newer than known version %d", name, version, e.version)
	}
	for v := version; v < e.version; v++ {
		up, ok := e.upcaster[v]
		if !ok {
			return nil, fmt.Errorf("decode event %s: no upcaster from version %d", name, v)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("decode event %s: upcast from version %d: %w", name, v, err)
		}
	}
	ev, err := e.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode event %s v%d: %w", name, version, err)
	}
	return ev, nil
}

// Names lists the registered event types, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Version is the schema version a type is decoded to today (0: unknown);
// stored events may hold any version from 1 up to it.
func (r *Registry) Version(name string) int {
	if e, ok := r.types[name]; ok {
		return e.version
	}
	return 0
}

// Replay folds stored events into an aggregate with its apply function:
// how an aggregate's Replay brings a loaded state up to date.
func Replay(apply func(Event), events []Event) {
	for _, e := range events {
		apply(e)
	}
}
