package memory

import (
	"net/http"
	"testing"

	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// TestDeclaredLengthStrict (RFC 9110 §8.6): the budget reads Content-Length
// as the core does: "+5" declares nothing.
func TestDeclaredLengthStrict(t *testing.T) {
	for v, want := range map[string]int64{"5": 5, "+5": -1, "-0": -1} {
		e := store.Entry{Pair: spec.Pair{Request: spec.Request{Method: "GET"}, Response: spec.Response{Status: 200, Header: http.Header{"Content-Length": {v}}}}}
		if got := declaredLength(&e); got != want {
			t.Errorf("declaredLength(%q) = %d, want %d", v, got, want)
		}
	}
}
