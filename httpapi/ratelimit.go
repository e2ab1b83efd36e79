package httpapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wod-dev/wod"
)

// limiter keeps a token bucket per client address. It is per process: with
// several replicas the effective limit is that many times higher, which is
// acceptable for abuse control (seats themselves are guarded by the store).
type limiter struct {
	mu      sync.Mutex
	perMin  int
	clock   wod.Clock
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perMinute int, clock wod.Clock) *limiter {
	return &limiter{perMin: perMinute, clock: clock, buckets: map[string]*bucket{}}
}

// allow takes a token for key, or says how long to wait for one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l.perMin <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Sub(l.swept) > time.Minute {
		// Forget idle addresses so that the map does not grow forever.
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
