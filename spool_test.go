package cellar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// FuzzSpool writes a body in chunks of the sizes the input says while
// readers read it sequentially and at offsets; everyone sees the same bytes,
// and a failed body ends in its error after the bytes written.
func FuzzSpool(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7}, uint16(100), false)
	f.Add([]byte{255, 255, 255}, uint16(10), true)
	f.Fuzz(func(t *testing.T, chunks []byte, memLimit uint16, fail bool) {
		// Bounded: the fuzzer's corpus grows long inputs, and a 4 MiB body
		// took seconds per run, minutes per smoke. 64 chunks still span
		// the memory limit many times over.
		if len(chunks) > 64 {
			chunks = chunks[:64]
		}
		var body []byte
		for i, c := range chunks {
			body = append(body, bytes.Repeat([]byte{byte(i)}, int(c)*17)...)
		}
		sp := newSpool(t.TempDir(), int(memLimit), -1)
		errFail := errors.New("upstream broke")
		var wg sync.WaitGroup
		for r := range 3 {
			if !sp.acquire() {
				t.Fatal("acquire failed")
			}
			wg.Go(func() {
				defer sp.release()
				rd := &spoolReader{s: sp, ctx: context.Background()}
				var got []byte
				var err error
				if r == 0 {
					got, err = io.ReadAll(rd)
				} else {
					// Odd sizes, to cross the chunks' edges, and a few
					// hundred reads at most: each read of a spilled body
					// is a system call.
					buf := make([]byte, 13*r*(1+len(body)/4096))
					for off := int64(0); ; off += int64(len(buf)) {
						n, rerr := rd.ReadAt(buf, off)
						got = append(got, buf[:n]...)
						if rerr != nil {
							if rerr != io.EOF {
								err = rerr
							}
							break
						}
					}
				}
				if !bytes.Equal(got, body) {
					t.Errorf("reader %d: %d bytes, want %d", r, len(got), len(body))
				}
				if fail != (err != nil) || fail && !errors.Is(err, errFail) {
					t.Errorf("reader %d: err %v (fail=%v)", r, err, fail)
				}
			})
		}
		pos := 0
		for i, c := range chunks {
			n := int(c) * 17
			if err := sp.write(body[pos : pos+n]); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			pos += n
		}
		if fail {
			sp.finish(errFail)
		} else {
			sp.finish(nil)
		}
		sp.release()
		wg.Wait()
	})
}
