package main

import (
	"os"
	"runtime/debug"

	"go.uber.org/zap"
)

// dispatcherGOGC is the dispatcher's GC target when GOGC is not set. Most of
// its heap is fetched records that live for one batch; at Go's default of
// 100 the collector ran about twice as often for no memory it needed back
// (batched benchmark: 0.61-0.63 of the ceiling at 100, 0.65-0.66 at 200,
// peak RSS 121-132 MB against 182-183 MB).
const dispatcherGOGC = 200

// tuneGC applies dispatcherGOGC and a soft memory limit of three times the
// buffer cap plus 64 MiB (at least 256 MiB), so the higher target cannot
// carry the heap past what the buffer cap implies. GOGC and GOMEMLIMIT in
// the environment take precedence.
func tuneGC(maxBuffered int64, log *zap.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(dispatcherGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := max(3*maxBuffered+64<<20, 256<<20)
		debug.SetMemoryLimit(limit)
		log.Debug("memory limit", zap.Int64("bytes", limit))
	}
}
