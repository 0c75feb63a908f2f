package proxy

import (
	"bytes"
	"errors"
	"github.com/cellar-http/cellar"
	"github.com/cellar-http/cellar/spec"
	"io"
	"net/http"
	"os"
	"time"
)

// Request bodies are received in full before the request goes upstream
// (issue 12 item 7), as nginx does by default: a client sending its body
// one byte every few seconds then holds a client connection and a buffer,
// not an upstream connection. Bodies up to Config.BodyMemoryBytes stay in
// memory, larger ones go to a temporary file, up to Config.MaxBodyBytes
// (413 past it). Receiving must keep an average of at least
// Config.BodyMinRate bytes per second after Config.BodyTimeout (408
// otherwise). Config.StreamRequestBodies turns this off.

// Defaults of the body buffering.
const (
	DefaultBodyMemoryBytes = 64 << 10
	DefaultBodyTimeout     = 10 * time.Second
	DefaultBodyMinRate     = 1 << 10
)

// bufferedBody is a request body received in full.
type bufferedBody struct {
	io.Reader
	file *os.File // nil when in memory
}

func (b *bufferedBody) Close() error { return nil }

// release removes the temporary file, if any.
func (b *bufferedBody) release() {
	if b.file != nil {
		_ = b.file.Close()
		_ = os.Remove(b.file.Name())
		b.file = nil
	}
}

// bufferBody receives r's body in full and makes it r's body, with its
// length as ContentLength (the request then goes upstream with a
// Content-Length, whatever framing the client used). It answers the client
// itself (413, 408, 400) and returns nil when it cannot.
func (p *Proxy) bufferBody(w http.ResponseWriter, r *http.Request) (*bufferedBody, bool) {
	rc := http.NewResponseController(w)
	start := time.Now()
	grace, rate := p.cfg.BodyTimeout, p.cfg.BodyMinRate
	if grace == 0 {
		grace = DefaultBodyTimeout
	}
	if rate == 0 {
		rate = DefaultBodyMinRate
	}
	memMax := p.cfg.BodyMemoryBytes
	if memMax == 0 {
		memMax = DefaultBodyMemoryBytes
	}
	var mem bytes.Buffer
	b := &bufferedBody{}
	var total int64
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	var err error
	for {
		// The deadline moves with what arrived: the client may take grace,
		// plus one second per rate bytes received.
		if grace > 0 {
			_ = rc.SetReadDeadline(start.Add(grace + time.Duration(float64(total)/float64(rate)*float64(time.Second))))
		}
		var n int
		n, err = r.Body.Read(buf)
		if n > 0 {
			total += int64(n)
			switch {
			case b.file != nil:
				_, err = b.file.Write(buf[:n])
			case int64(mem.Len()+n) > memMax:
				if b.file, err = os.CreateTemp(p.cfg.BodyTempDir, "cellar-body-*"); err == nil {
					if _, err = b.file.Write(mem.Bytes()); err == nil {
						_, err = b.file.Write(buf[:n])
					}
					mem = bytes.Buffer{}
				}
			default:
				mem.Write(buf[:n])
			}
		}
		if err != nil {
			break
		}
	}
	if err != io.EOF {
		// The deadline stays as it is: net/http would otherwise wait for
		// the rest of a slow body, to discard it, before closing.
		b.release()
		p.bodyError(w, r, err)
		return nil, false
	}
	if grace > 0 {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			b.release()
			p.bodyError(w, r, err)
			return nil, false
		}
		b.Reader = b.file
	} else {
		b.Reader = bytes.NewReader(mem.Bytes())
	}
	r.Body, r.ContentLength, r.TransferEncoding = b, total, nil
	if total == 0 {
		r.Body = http.NoBody
	}
	return b, true
}

// bodyError answers a request whose body could not be received.
func (p *Proxy) bodyError(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	var timeout interface{ Timeout() bool }
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &timeout) && timeout.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		status = http.StatusRequestTimeout
	case r.Context().Err() != nil:
		if rec, ok := w.(*recorder); ok {
			rec.status = 499
		}
		return
	case !errors.Is(err, io.ErrUnexpectedEOF) && !isClientReadErr(err):
		status = http.StatusInternalServerError // the temporary file failed
		p.log.Error("buffering a request body", "err", err)
	}
	p.log.Debug("request body not received", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	w.Header().Set("Connection", "close")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusRequestEntityTooLarge && p.cfg.Cache != nil {
		// Every response carries Cache-Status (RFC 9211), this refusal
		// too: it never went forward.
		w.Header()["Cache-Status"] = []string{spec.CacheStatus{Detail: cellar.DetailRequestTooLarge}.Value(p.via)}
	}
	http.Error(w, http.StatusText(status), status)
}

// isClientReadErr reports whether err came from reading the client's
// connection (not the temporary file).
func isClientReadErr(err error) bool {
	var pe *os.PathError
	return !errors.As(err, &pe)
}
