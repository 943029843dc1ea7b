// Package httpapi holds what the command routes and the read routes share
// over HTTP, so that both answer alike: the bearer tokens that identify a
// caller (Keys, Caller), errors as RFC 9457 problem details with a stable
// code (WriteProblem), strict decoding of JSON bodies (Decode), routing on
// decoded paths, and the OpenAPI description that is the contract of every
// route (OpenAPI).
package httpapi
