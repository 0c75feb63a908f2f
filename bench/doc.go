// Package bench measures Cellar side by side with other Go HTTP caches
// (github.com/pquerna/cachecontrol for decisions, github.com/gregjones/httpcache
// for the client path) and with no cache at all. It is a separate module so
// that those peers never enter Cellar's own go.mod.
//
// Everything lives in _test.go files: run ./run.sh (or go test -bench . here).
// The proxy comparison with nginx and Varnish is proxy/run.sh.
package bench
