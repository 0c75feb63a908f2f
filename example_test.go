package cellar_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"github.com/cellar-http/cellar/store/memory"
)

// A private cache in front of an http.Client, like a browser's.
func ExampleNewTransport() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()

	st, err := memory.New(memory.Options{MaxBytes: 64 << 20}) // or disk.Open(dir, disk.Options{...})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	c, err := cellar.NewTransport(cellar.Config{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	client := &http.Client{Transport: c}

	for range 2 {
		resp, err := client.Get(origin.URL)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %s\n", body, cellar.TraceFrom(resp).Steps[0].Reason.Code)
	}
	// Output:
	// hello: uri-miss
	// hello: fresh
}

// A shared cache in front of a server's handler (compiled, not run: it
// listens).
func ExampleMiddleware_listen() {
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "s-maxage=60")
		io.WriteString(w, "page")
	})

	mw, err := cellar.Middleware(cellar.Config{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", mw(handler)))
}

// A shared cache in front of a handler.
func ExampleMiddleware() {
	st, err := memory.New(memory.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// A fixed clock keeps the example's ttl exact.
	now := time.Now().UTC().Truncate(time.Second)
	mw, err := cellar.Middleware(cellar.Config{Store: st, Name: "edge", Spec: spec.Options{Clock: func() time.Time { return now }}})
	if err != nil {
		log.Fatal(err)
	}
	calls := 0
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Date", now.Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "s-maxage=60")
		io.WriteString(w, "page")
	})))
	defer srv.Close()

	for range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Header.Get("Cache-Status"))
	}
	fmt.Println("handler calls:", calls)
	// Output:
	// edge; fwd=uri-miss; fwd-status=200; ttl=60; stored
	// edge; hit; ttl=60
	// edge; hit; ttl=60
	// handler calls: 1
}
