package cellar

import (
	"context"
	"io"
	"os"
	"sync"
)

// spool holds the body of a response being filled so that each waiter reads
// it at its own pace while one goroutine writes it. The first memLimit bytes
// stay in memory; past that everything moves to a temporary file, unlinked at
// once, so memory does not grow with the body. One writer; any number of
// readers, each with its own offset.
type spool struct {
	dir      string
	memLimit int

	mu     sync.Mutex
	mem    []byte
	f      *os.File
	name   string // set when the file could not be unlinked at creation
	size   int64
	done   bool
	err    error         // why the body ended early; nil for a complete body
	notify chan struct{} // closed on the next change; nil when nobody waits
	refs   int
}

// newSpool returns a spool with one reference, the writer's. expected is the
// announced body length or -1: a body known to exceed memLimit goes to a file
// from the start, and one that fits is given its memory at once (growing
// it by appends cost 4% of the CPU of a workload of 8 KiB misses). A length
// that lies costs at most memLimit, as a body that grows does.
func newSpool(dir string, memLimit int, expected int64) *spool {
	s := &spool{dir: dir, memLimit: memLimit, refs: 1}
	switch {
	case expected > int64(memLimit):
		s.memLimit = 0
	case expected > 0:
		s.mem = make([]byte, 0, expected)
	}
	return s
}

// acquire takes a reference; it fails once the spool has been released by
// everyone (its file closed).
func (s *spool) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs == 0 {
		return false
	}
	s.refs++
	return true
}

// release drops a reference; the last one closes the file.
func (s *spool) release() {
	s.mu.Lock()
	s.refs--
	var f *os.File
	if s.refs == 0 {
		f, s.f, s.mem = s.f, nil, nil
	}
	name := s.name
	s.mu.Unlock()
	if f != nil {
		f.Close()
		if name != "" {
			os.Remove(name)
		}
	}
}

// write appends p. Only the writer calls it.
func (s *spool) write(p []byte) error {
	s.mu.Lock()
	if s.f == nil && len(s.mem)+len(p) <= s.memLimit {
		s.mem = append(s.mem, p...)
		s.size += int64(len(p))
		s.wake()
		s.mu.Unlock()
		return nil
	}
	f, off, mem := s.f, s.size, s.mem
	s.mu.Unlock()
	if f == nil {
		var err error
		if f, err = s.spill(mem); err != nil {
			return err
		}
	}
	n, err := f.WriteAt(p, off)
	s.mu.Lock()
	s.size += int64(n)
	s.wake()
	s.mu.Unlock()
	return err
}

// spill moves the in-memory prefix to a new temporary file.
func (s *spool) spill(mem []byte) (*os.File, error) {
	f, err := os.CreateTemp(s.dir, "cellar-spool-*")
	if err != nil {
		return nil, err
	}
	name := ""
	if os.Remove(f.Name()) != nil {
		name = f.Name() // some systems cannot unlink an open file
	}
	if _, err := f.WriteAt(mem, 0); err != nil {
		f.Close()
		if name != "" {
			os.Remove(name)
		}
		return nil, err
	}
	s.mu.Lock()
	s.f, s.name, s.mem = f, name, nil
	s.mu.Unlock()
	return f, nil
}

// finish marks the end of the body: complete when err is nil, else cut
// short by err, which every reader gets after the bytes written so far.
func (s *spool) finish(err error) {
	s.mu.Lock()
	if !s.done {
		s.done, s.err = true, err
		s.wake()
	}
	s.mu.Unlock()
}

func (s *spool) wake() {
	if s.notify != nil {
		close(s.notify)
		s.notify = nil
	}
}

// readAt reads up to len(p) bytes at off, waiting (until ctx is done) for
// them to be written. It returns fewer bytes than asked when fewer are
// available; caughtUp reports that the read reached what is written so far
// of a body still being filled.
func (s *spool) readAt(ctx context.Context, p []byte, off int64) (n int, caughtUp bool, err error) {
	for {
		s.mu.Lock()
		if off < s.size {
			n := int(min(int64(len(p)), s.size-off))
			caughtUp := off+int64(n) == s.size && !s.done
			if s.f == nil {
				copy(p, s.mem[off:off+int64(n)])
				s.mu.Unlock()
				return n, caughtUp, nil
			}
			f := s.f
			s.mu.Unlock()
			n, err := f.ReadAt(p[:n], off)
			if err == io.EOF {
				err = nil
			}
			return n, caughtUp, err
		}
		if s.done {
			err := s.err
			s.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, false, err
		}
		if s.notify == nil {
			s.notify = make(chan struct{})
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
}

// spoolReader reads a spool sequentially from the start, for one waiter.
type spoolReader struct {
	s     *spool
	ctx   context.Context
	off   int64
	flush *flushSignal // set when a read catches up with the writer
}

func (r *spoolReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, caughtUp, err := r.s.readAt(r.ctx, p, r.off)
	r.off += int64(n)
	if caughtUp && r.flush != nil {
		r.flush.set()
	}
	return n, err
}

// ReadAt implements io.ReaderAt (for ranges), waiting for the bytes.
func (r *spoolReader) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n, _, err := r.s.readAt(r.ctx, p[total:], off+int64(total))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
