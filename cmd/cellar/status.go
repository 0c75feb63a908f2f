package main

import (
	"net/url"
	"strings"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/proxy"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store"
)

// newStatus returns the status page's collector (proxy.Status), or nil
// when --status-page is off or there is no admin listener to show it.
func newStatus(cfg *serveConfig, st store.Store, cache *cellar.Cache) *proxy.Status {
	if !cfg.StatusPage || cfg.Admin == "" {
		return nil
	}
	return proxy.NewStatus(proxy.StatusConfig{
		Store:       st,
		StoreBudget: cfg.MaxSize,
		InFlight:    cache.InFlight,
		Options:     cache.Options(),
		Name:        cfg.Name,
		Explain:     explainDecision,
		Version:     versionString(),
	})
}

// explainDecision renders a decision of the status page as `cellar
// explain` renders a response for a shared cache, from the same
// spec.Explain and spec.ExplainNotes.
func explainDecision(req spec.Request, resp spec.Response, opts spec.Options) string {
	u := req.URL
	if u == nil {
		u = &url.URL{}
	}
	c := &explainConfig{Method: req.Method, URL: u, Header: req.Header, At: resp.ResponseTime, Targeted: opts.TargetedField}
	rep := explain(c, resp)
	var b strings.Builder
	writeExplained(&b, "Shared cache (this proxy)", &rep.Shared, rep)
	return strings.TrimLeft(b.String(), "\n")
}
