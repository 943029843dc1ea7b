package readapi

import _ "embed"

// EventSchemas is the published contract of every stored event: a JSON
// Schema for every version of every event type, generated from the Go types
// by cmd/eventschemas (which also writes docs/events/). The service serves
// it at /v1/schemas/events.
//
//go:generate go run ../cmd/eventschemas -root ..
//go:embed events.schema.json
var EventSchemas []byte
