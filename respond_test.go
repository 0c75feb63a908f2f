package cellar

import (
	"net/http"
	"testing"
)

// TestHeaderLengthStrict (RFC 9110 §8.6): the engine reads Content-Length
// as the core does (spec.ParseContentLength): a sign declares nothing.
func TestHeaderLengthStrict(t *testing.T) {
	for v, want := range map[string]int64{"5": 5, "0": 0, "+5": -1, "-0": -1, " 5": -1, "x": -1} {
		if got := headerLength(http.Header{"Content-Length": {v}}); got != want {
			t.Errorf("headerLength(%q) = %d, want %d", v, got, want)
		}
	}
	if got := headerLength(http.Header{"Content-Length": {"5", "5"}}); got != -1 {
		t.Errorf("two lines: %d", got)
	}
}
