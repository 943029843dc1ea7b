// Package apiclient is a Go client of the ShareLedger HTTP API, generated
// by oapi-codegen from the OpenAPI description (commands/httpapi/openapi.json), so
// it says exactly what the description says. Do not edit
// apiclient.gen.go: change the description and run go generate.
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../commands/httpapi/openapi.json
