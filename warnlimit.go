package cellar

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// storeWarnEvery is how often at most the engine logs a store failure. A
// store that is down fails every request: one WARN per request buried the
// log (issue 13), while one per interval, with the number left out, says
// the same.
const storeWarnEvery = 10 * time.Second

// warnLimiter lets one log record through per interval and counts the
// ones it holds back, reported with the next that passes.
type warnLimiter struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time // zero: the next record passes
	held  int64
}

// warn logs msg at WARN unless one was logged less than every ago; the
// record carries "suppressed", the number held back since the last one.
func (l *warnLimiter) warn(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.Before(l.next) {
		l.held++
		l.mu.Unlock()
		return
	}
	every := l.every
	if every == 0 {
		every = storeWarnEvery
	}
	l.next = now.Add(every)
	held := l.held
	l.held = 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.WarnContext(ctx, msg, args...)
}
