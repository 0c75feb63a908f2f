package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/cellar-http/cellar/spec"
)

func typicalEntry() Entry {
	u, _ := url.Parse("https://example.com/assets/app.js?v=42")
	req := time.Date(2026, 11, 25, 22, 8, 26, 123456789, time.UTC)
	return Entry{
		Key:     "https://example.com/assets/app.js?v=42",
		Variant: "accept-encoding=gzip",
		ID:      "01JDQ3K7X9F4M2N8P5R6S7T8V9",
		Pair: spec.Pair{
			ID: "01JDQ3K7X9F4M2N8P5R6S7T8V9",
			Request: spec.Request{
				Method: http.MethodGet,
				URL:    u,
				Header: http.Header{"Accept-Encoding": {"gzip", "br"}},
			},
			Response: spec.Response{
				Status: http.StatusOK,
				Header: http.Header{
					"Cache-Control":  {"public, max-age=3600", "stale-while-revalidate=60"},
					"Content-Type":   {"application/javascript; charset=utf-8"},
					"Content-Length": {"48213"},
					"Date":           {"Wed, 25 Nov 2026 22:08:26 GMT"},
					"Etag":           {`"5f3a-1b2c3d4e"`},
					"Last-Modified":  {"Tue, 24 Nov 2026 10:00:00 GMT"},
					"Vary":           {"Accept-Encoding"},
					"Server":         {"origin/1.0"},
					"Age":            {"0"},
					"Set-Cookie":     {"a=1; Path=/", "b=2; Path=/"},
				},
				RequestTime:  req,
				ResponseTime: req.Add(37 * time.Millisecond),
			},
		},
		Size:     48213,
		Checksum: 0xdeadbeef,
		Tags:     []string{"assets", "app"},
		Expires:  req.Add(time.Hour + time.Minute),
	}
}

// equalEntries reports whether a and b are the same entry as far as the
// codec promises: URLs by their String, times by instant.
func equalEntries(a, b Entry) bool {
	ua, ub := "<nil>", "<nil>"
	if a.Pair.Request.URL != nil {
		ua = a.Pair.Request.URL.String()
	}
	if b.Pair.Request.URL != nil {
		ub = b.Pair.Request.URL.String()
	}
	sameTime := func(x, y time.Time) bool { return x.Equal(y) && x.IsZero() == y.IsZero() }
	return a.Key == b.Key && a.Variant == b.Variant && a.ID == b.ID &&
		a.Pair.ID == b.Pair.ID && a.Pair.Request.Method == b.Pair.Request.Method && ua == ub &&
		equalHeaders(a.Pair.Request.Header, b.Pair.Request.Header) &&
		a.Pair.Response.Status == b.Pair.Response.Status &&
		sameTime(a.Pair.Response.RequestTime, b.Pair.Response.RequestTime) &&
		sameTime(a.Pair.Response.ResponseTime, b.Pair.Response.ResponseTime) &&
		equalHeaders(a.Pair.Response.Header, b.Pair.Response.Header) &&
		a.Size == b.Size && a.Checksum == b.Checksum &&
		len(a.Tags) == len(b.Tags) && (len(a.Tags) == 0 || reflect.DeepEqual(a.Tags, b.Tags)) &&
		sameTime(a.Expires, b.Expires)
}

func equalHeaders(a, b http.Header) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

func TestCodecRoundTrip(t *testing.T) {
	typical := typicalEntry()
	tests := []struct {
		name string
		e    Entry
	}{
		{"typical", typical},
		{"zero", Entry{}},
		{"empty headers and tags", Entry{
			Key: "k",
			Pair: spec.Pair{
				Request:  spec.Request{URL: &url.URL{}, Header: http.Header{}},
				Response: spec.Response{Header: http.Header{"X-Empty": {}}, Status: -1},
			},
			Tags: []string{""},
		}},
		{"extreme numbers", Entry{
			Size:     1<<63 - 1,
			Checksum: 1<<32 - 1,
			Pair: spec.Pair{Response: spec.Response{
				Status:       999,
				RequestTime:  time.Unix(0, 0),
				ResponseTime: time.Unix(0, -1),
			}},
			Expires: time.Unix(0, 1<<63-1),
		}},
		{"binary strings", Entry{
			Key:  "\x00\xff\x80",
			Tags: []string{string(make([]byte, 300))},
			Pair: spec.Pair{Response: spec.Response{Header: http.Header{"\x00": {"\xff", ""}}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := MarshalEntry(tt.e)
			got, err := UnmarshalEntry(b)
			if err != nil {
				t.Fatalf("UnmarshalEntry: %v", err)
			}
			if !equalEntries(got, tt.e) {
				t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", got, tt.e)
			}
			if again := MarshalEntry(got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
			}
		})
	}
}

func TestCodecNilness(t *testing.T) {
	got, err := UnmarshalEntry(MarshalEntry(Entry{}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Pair.Request.URL != nil || got.Pair.Request.Header != nil || got.Pair.Response.Header != nil || got.Tags != nil {
		t.Errorf("nil fields decoded as non-nil: %+v", got)
	}
	if !got.Expires.IsZero() || !got.Pair.Response.RequestTime.IsZero() {
		t.Errorf("zero times decoded as non-zero: %+v", got)
	}
	e := Entry{Pair: spec.Pair{Request: spec.Request{Header: http.Header{}}}}
	got, err = UnmarshalEntry(MarshalEntry(e))
	if err != nil {
		t.Fatal(err)
	}
	if got.Pair.Request.Header == nil {
		t.Error("empty header decoded as nil")
	}
}

// TestCodecDeterministic checks that equal entries encode equally whatever
// the map order, so backends may compare encodings.
func TestCodecDeterministic(t *testing.T) {
	want := MarshalEntry(typicalEntry())
	for range 20 {
		if got := MarshalEntry(typicalEntry()); !bytes.Equal(got, want) {
			t.Fatal("two encodings of one entry differ")
		}
	}
}

// TestAppendEntry checks that AppendEntry leaves what b holds alone and
// appends exactly MarshalEntry's encoding, its CRC over the entry's bytes
// only: the disk store builds a record's frame around it in one buffer.
func TestAppendEntry(t *testing.T) {
	e := typicalEntry()
	prefix := []byte("frame head")
	got := AppendEntry(append([]byte(nil), prefix...), e)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("prefix overwritten: %q", got[:len(prefix)])
	}
	if want := MarshalEntry(e); !bytes.Equal(got[len(prefix):], want) {
		t.Fatal("appended bytes differ from MarshalEntry's")
	}
	dec, err := UnmarshalEntry(got[len(prefix):])
	if err != nil || !equalEntries(dec, e) {
		t.Fatalf("appended encoding does not decode to the entry: %v", err)
	}
	many := http.Header{}
	for i := range 40 { // more names than appendHeader sorts on its stack
		many[fmt.Sprintf("X-Field-%02d", 39-i)] = []string{"v"}
	}
	e.Pair.Response.Header = many
	dec, err = UnmarshalEntry(MarshalEntry(e))
	if err != nil || !equalHeaders(dec.Pair.Response.Header, many) {
		t.Fatalf("a header of 40 names does not round-trip: %v", err)
	}
}

// TestEncodedSizeBound: the bound holds for URLs whose string form escapes
// every byte, and AppendEntry into that much room does not grow the buffer.
func TestEncodedSizeBound(t *testing.T) {
	for _, raw := range []string{
		"http://cache.example/a",
		"http://user:p%20ss@[fe80::1%25en0]:8080/%00%01%02/\u00e9?q=%ff#frag%20ment",
		"mailto:%20%20%20@example",
		"/only/a/path?x",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		e := typicalEntry()
		e.Pair.Request.URL = u
		u.Path += "\x00 ü €" // escaped to up to three bytes each in String()
		enc := MarshalEntry(e)
		bound := EncodedSizeBound(e)
		if len(enc) > bound {
			t.Errorf("%s: encoding of %d bytes over the bound %d", raw, len(enc), bound)
		}
		b := make([]byte, 3, 3+bound)
		if got := AppendEntry(b, e); cap(got) != cap(b) || &got[0] != &b[0] {
			t.Errorf("%s: AppendEntry grew a buffer with EncodedSizeBound bytes free", raw)
		}
	}
}

// TestCodecValuesIsolated checks that appending to one decoded header's
// values does not overwrite the next name's (they share a backing array).
func TestCodecValuesIsolated(t *testing.T) {
	e := Entry{Pair: spec.Pair{Response: spec.Response{Header: http.Header{"A": {"1"}, "B": {"2"}}}}}
	got, err := UnmarshalEntry(MarshalEntry(e))
	if err != nil {
		t.Fatal(err)
	}
	got.Pair.Response.Header.Add("A", "x")
	if b := got.Pair.Response.Header["B"]; len(b) != 1 || b[0] != "2" {
		t.Fatalf(`appending to "A" changed "B" to %q`, b)
	}
}

func TestCodecDoesNotRetainInput(t *testing.T) {
	b := MarshalEntry(typicalEntry())
	got, err := UnmarshalEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if !equalEntries(got, typicalEntry()) {
		t.Fatal("the decoded entry changed with the input buffer")
	}
}

// seal replaces b's CRC trailer with a correct one, so that a test can
// present a decoder with input that is corrupt past the checksum.
func seal(b []byte) []byte {
	if len(b) < 1+crcSize {
		return b
	}
	out := bytes.Clone(b)
	body := out[:len(out)-crcSize]
	binary.LittleEndian.PutUint32(out[len(body):], crc32.Checksum(body, castagnoli))
	return out
}

func TestCodecCorrupt(t *testing.T) {
	good := MarshalEntry(typicalEntry())
	check := func(t *testing.T, name string, b []byte) {
		t.Helper()
		_, err := UnmarshalEntry(b)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		for n := range len(good) {
			check(t, "truncated", good[:n])
			if n < len(good)-crcSize {
				check(t, "truncated and resealed", seal(append(bytes.Clone(good[:n]), 0, 0, 0, 0)))
			}
		}
	})
	t.Run("bit flips", func(t *testing.T) {
		for i := range len(good) {
			for bit := range 8 {
				b := bytes.Clone(good)
				b[i] ^= 1 << bit
				check(t, "flip", b)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		b := bytes.Clone(good)
		b[0] = 2
		check(t, "version 2", seal(b))
	})
	t.Run("trailing bytes", func(t *testing.T) {
		b := append(bytes.Clone(good[:len(good)-crcSize]), 0, 0, 0, 0, 0)
		check(t, "trailing", seal(b))
	})
	t.Run("lying lengths", func(t *testing.T) {
		// A key claiming 2^62 bytes, and a header claiming 2^40 names:
		// both must fail fast without trying to allocate.
		huge := binary.AppendUvarint([]byte{codecVersion}, 1<<62)
		check(t, "huge key", seal(append(huge, 0, 0, 0, 0)))
		b := []byte{codecVersion, 0, 0, 0, 0, 0, 0}
		b = binary.AppendUvarint(b, 1<<40)
		b = binary.AppendUvarint(b, 1<<40)
		check(t, "huge header", seal(append(b, 0, 0, 0, 0)))
		lying := seal(append(huge, 0, 0, 0, 0))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			_, _ = UnmarshalEntry(lying)
		}
		runtime.ReadMemStats(&after)
		if perRun := (after.TotalAlloc - before.TotalAlloc) / 100; perRun > 4096 {
			t.Errorf("rejecting a lying length allocated %d bytes", perRun)
		}
	})
	t.Run("varint overflow", func(t *testing.T) {
		b := append([]byte{codecVersion}, bytes.Repeat([]byte{0xff}, 10)...)
		check(t, "overflow", seal(append(b, 1, 0, 0, 0, 0)))
	})
	t.Run("duplicate header name", func(t *testing.T) {
		b := []byte{codecVersion, 0, 0, 0, 0, 0, 0}
		b = append(b, 3, 2, 1, 'A', 1, 0, 1, 'A', 1, 0)
		check(t, "duplicate", seal(append(b, 0, 0, 0, 0)))
	})
	t.Run("bad URL", func(t *testing.T) {
		b := []byte{codecVersion, 0, 0, 0, 0, 0}
		b = append(b, 4, '%', 'z', 'z', 0)
		check(t, "bad URL", seal(append(b, 0, 0, 0, 0)))
	})
}

func FuzzUnmarshalEntry(f *testing.F) {
	f.Add(MarshalEntry(typicalEntry()))
	f.Add(MarshalEntry(Entry{}))
	f.Add(MarshalEntry(Entry{Key: "k", Tags: []string{"a", "b"}, Pair: spec.Pair{Request: spec.Request{Header: http.Header{}}}}))
	f.Add([]byte{})
	f.Add([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		// As given, the CRC trailer almost always rejects the input; resealed,
		// the input reaches the field decoder, which is what needs exploring.
		for _, b := range [][]byte{data, seal(data)} {
			e, err := UnmarshalEntry(b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error does not wrap ErrCorrupt: %v", err)
				}
				continue
			}
			enc := MarshalEntry(e)
			if bound := EncodedSizeBound(e); len(enc) > bound {
				t.Fatalf("encoding of %d bytes over EncodedSizeBound's %d", len(enc), bound)
			}
			e2, err := UnmarshalEntry(enc)
			if err != nil {
				t.Fatalf("re-decoding a decoded entry: %v", err)
			}
			if u := e.Pair.Request.URL; u != nil && u.String() != e2.Pair.Request.URL.String() {
				t.Skipf("net/url does not round-trip %q", u.String())
			}
			if !equalEntries(e, e2) {
				t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", e2, e)
			}
			if enc2 := MarshalEntry(e2); !bytes.Equal(enc, enc2) {
				t.Fatalf("re-encoding differs")
			}
		}
	})
}

func BenchmarkUnmarshalEntry(b *testing.B) {
	enc := MarshalEntry(typicalEntry())
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UnmarshalEntry(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalEntry(b *testing.B) {
	e := typicalEntry()
	b.ReportAllocs()
	for b.Loop() {
		MarshalEntry(e)
	}
}
