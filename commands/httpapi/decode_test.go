package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/commands/httpapi"
)

// BenchmarkDecode: the body of a design sent to a device, decoded as a
// command's route does.
//
//	go test -run '^$' -bench Decode -benchmem ./commands/httpapi/
func BenchmarkDecode(b *testing.B) {
	const body = `{"project":"0f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11","design":"deck.dxf"}`
	w := httptest.NewRecorder()
	for b.Loop() {
		var v struct {
			Project string `json:"project"`
			Design  string `json:"design"`
		}
		r := httptest.NewRequest("POST", "/v1/devices/d/designs", strings.NewReader(body))
		if err := httpapi.Decode(w, r, &v); err != nil || v.Design != "deck.dxf" {
			b.Fatal(v, err)
		}
	}
}
