package cellar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// droppedAlone tells a connection the origin dropped (perhaps for one
// request's fields: followers forward alone) from an origin unavailable to
// everyone (followers take the failure).
func TestDroppedAlone(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("readLoop: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, true},
		{dial, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("upstream: %w", os.ErrDeadlineExceeded), false},
		{errors.New("proxy: upstream busy"), false},
	} {
		if got := droppedAlone(c.err); got != c.want {
			t.Errorf("droppedAlone(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
