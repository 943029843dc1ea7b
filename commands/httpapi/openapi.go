package httpapi

import _ "embed"

// OpenAPI is the OpenAPI 3.1 description of the command and read APIs.
//
//go:embed openapi.json
var OpenAPI []byte
