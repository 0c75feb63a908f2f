// Command origin is the upstream that bench/proxy/run.sh puts nginx, Varnish
// and cellar serve in front of, and measures bare as the limit of a Go server.
// It serves bodies from memory and counts the requests it answers:
//
//	/obj/1k, /obj/100k, /obj/256k, /obj/512k, /obj/1m, /obj/16m
//	                    1 KiB, 100 KiB, 1 MiB and 16 MiB, Cache-Control:
//	                    public, max-age=3600, with ETag and Last-Modified (the
//	                    hit workloads)
//	/miss/N             1 KiB for any N, public, max-age=-miss-max-age and no
//	                    validator, so an expired key is fetched again in full
//	                    (the miss-heavy workload)
//	/mix/K              8 KiB for any K, public, max-age=3600 with an ETag
//	                    (the mixed workload: Zipf-distributed keys, and a
//	                    tenth never asked before)
//	/stats              "requests N" (requests answered, /stats excluded)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18700", "`ADDR` to listen on")
	missMaxAge := flag.Int("miss-max-age", 1, "max-age in `SECONDS` of /miss/N responses")
	pprofAddr := flag.String("pprof", "", "serve /debug/pprof/ on this `ADDR` too (to compare profiles with cellar serve's)")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { log.Print(http.ListenAndServe(*pprofAddr, nil)) }() // net/http/pprof registers on DefaultServeMux
	}

	lastModified := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	type object struct {
		body []byte
		etag string
		size string
	}
	objects := map[string]object{}
	for name, n := range map[string]int{"1k": 1 << 10, "100k": 100 << 10, "256k": 256 << 10, "512k": 512 << 10, "1m": 1 << 20, "16m": 16 << 20} {
		objects["/obj/"+name] = object{
			body: bytes.Repeat([]byte("cellar!\n"), n/8),
			etag: `"obj-` + name + `"`,
			size: strconv.Itoa(n),
		}
	}
	missBody := bytes.Repeat([]byte("missing\n"), 1<<10/8)
	missCC := "public, max-age=" + strconv.Itoa(*missMaxAge)
	missSize := strconv.Itoa(len(missBody))

	mixBody := bytes.Repeat([]byte("mixture\n"), 8<<10/8)
	mixSize := strconv.Itoa(len(mixBody))

	var requests atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/obj/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		o, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Cache-Control"] = []string{"public, max-age=3600"}
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Etag"] = []string{o.etag}
		h["Last-Modified"] = []string{lastModified}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, o.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Content-Length"] = []string{o.size}
		w.Write(o.body)
	})
	mux.HandleFunc("/miss/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h := w.Header()
		h["Cache-Control"] = []string{missCC}
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{missSize}
		w.Write(missBody)
	})
	mux.HandleFunc("/mix/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h := w.Header()
		h["Cache-Control"] = []string{"public, max-age=3600"}
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Etag"] = []string{`"mix"`}
		h["Content-Length"] = []string{mixSize}
		w.Write(mixBody)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "requests %d\n", requests.Load())
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
