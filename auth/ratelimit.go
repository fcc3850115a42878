package auth

import (
	"sync"
	"time"
)

// Limiter counts attempts per key (an email, a client address) in a
// sliding window, such as failed sign-ins or sign-ups, and refuses a key
// that has used up its allowance.
type Limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	hits   map[string][]time.Time
}

// NewLimiter allows max failures per key per window.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, now: time.Now, hits: map[string][]time.Time{}}
}

func (l *Limiter) prune(key string, now time.Time) []time.Time {
	h := l.hits[key]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= l.window {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, key)
	} else {
		l.hits[key] = h
	}
	return h
}

// Allow reports whether every key may try again, and if not, when.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		h := l.prune(k, now)
		if len(h) >= l.max {
			if w := l.window - now.Sub(h[0]); w > wait {
				wait = w
			}
		}
	}
	return wait == 0, wait
}

// Fail records a failed attempt against every key.
func (l *Limiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.hits[k] = append(l.prune(k, now), now)
	}
	if len(l.hits) > 100000 { // bound memory under a spray of keys
		for k := range l.hits {
			l.prune(k, now)
		}
	}
}

// Reset forgets a key's failures (after a successful sign-in).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}
