package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/shareledger/shareledger/commands/httpapi"
)

// The OpenAPI description is the contract: every request the end-to-end
// tests send through client.do, and every answer, is checked against it.
// A request the server accepts (2xx) must be one the description allows;
// every answer, refusals included, must have a documented status, content
// type and schema.

var contract struct {
	once   sync.Once
	router routers.Router
	err    error
}

func contractRouter() (routers.Router, error) {
	contract.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
		if err != nil {
			contract.err = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		doc.Servers = nil // the tests' servers listen on any port
		contract.router, contract.err = legacy.NewRouter(doc)
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
		// An invitation file is described as text; its rows are the CSV
		// parser's to judge (it names each bad line), not a generic
		// decoder's, which wants every record as long as the first.
		openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
	})
	return contract.router, contract.err
}

// contractError says how a request and its answer disagree with the
// description, or nil.
func contractError(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	router, err := contractRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil // no such route, and the server says so
		}
		return fmt.Errorf("%s %s is not described, yet answered %d", req.Method, req.URL.Path, status)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if status < 300 {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("%s %s was accepted (%d) but its description refuses the request: %w", req.Method, req.URL.Path, status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s answered %d outside its description: %w\nbody: %.600s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// TestTheContractCheckCatchesDisagreements: the check that every
// end-to-end request goes through refuses what the description does not
// allow, and lets through what it does.
func TestTheContractCheckCatchesDisagreements(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	tests := []struct {
		name    string
		method  string
		path    string
		reqBody string
		status  int
		header  http.Header
		body    string
		ok      bool
	}{
		{"a documented page", "GET", "/v1/devices", "", 200, json, `{"items":[]}`, true},
		{"a page of the wrong shape", "GET", "/v1/devices", "", 200, json, `{"items":5}`, false},
		{"an undocumented status", "GET", "/v1/devices", "", 418, problem, `{"type":"x","title":"x","status":418,"code":"x"}`, false},
		{"a problem of the wrong content type", "GET", "/v1/devices", "", 400, json, `{"type":"x","title":"x","status":400,"code":"x"}`, false},
		{"an accepted request the description refuses", "POST", "/v1/projects", `{"name":"A","colour":"red"}`, 201, json, `{"id":"p","position":"1"}`, false},
		{"a refused bad request, answered as documented", "POST", "/v1/projects", `{"name":"A","colour":"red"}`, 400, problem, `{"type":"x","title":"x","status":400,"code":"x"}`, true},
		{"a route that does not exist, answered 404", "GET", "/v1/nothing", "", 404, problem, `{}`, true},
		{"a route that does not exist, answered 200", "GET", "/v1/nothing", "", 200, json, `{}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1:1"+tt.path, bytes.NewBufferString(tt.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			err = contractError(req, []byte(tt.reqBody), tt.status, tt.header, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("contract check: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// checkedByDo marks a request whose contract client.do checks itself, with
// the test's name on any failure.
type checkedByDo struct{}

// contractTransport checks every other request the tests' process sends
// (the CLI's client among them) and its answer, and keeps what disagrees
// for TestMain to report.
type contractTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	errs []error
}

func (c *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Context().Value(checkedByDo{}) != nil {
		return c.next.RoundTrip(req)
	}
	var sent []byte
	if req.GetBody != nil {
		if rd, err := req.GetBody(); err == nil {
			sent, _ = io.ReadAll(rd)
		}
	}
	res, err := c.next.RoundTrip(req)
	if err != nil || res.Header.Get("Content-Type") == "text/event-stream" {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return res, nil // the connection broke: the reader sees it
	}
	check := req.Clone(context.Background())
	if err := contractError(check, sent, res.StatusCode, res.Header, body); err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
	}
	return res, nil
}

func TestMain(m *testing.M) {
	ct := &contractTransport{next: http.DefaultTransport}
	http.DefaultTransport = ct
	http.DefaultClient.Transport = ct
	code := m.Run()
	for _, err := range ct.errs {
		fmt.Fprintf(os.Stderr, "contract: %v\n", err)
		code = 1
	}
	os.Exit(code)
}
