package graphvault

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/graphvault/graphvault/api"
)

// mutationLimiter bounds how many mutating calls (POST, PUT, PATCH, DELETE) each
// client address may make: a token bucket per address. Reads are not limited, so
// dashboards and scrapers are never throttled. Idle buckets are forgotten.
type mutationLimiter struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*client
	swept   time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newMutationLimiter(perSecond float64, burst int) *mutationLimiter {
	return &mutationLimiter{
		every: time.Duration(float64(time.Second) / perSecond), burst: burst,
		now: time.Now, clients: map[string]*client{},
	}
}

func (m *mutationLimiter) allow(addr string) (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if now.Sub(m.swept) > time.Minute {
		for a, c := range m.clients {
			if now.Sub(c.seen) > 10*time.Minute {
				delete(m.clients, a)
			}
		}
		m.swept = now
	}
	c, ok := m.clients[addr]
	if !ok {
		c = &client{lim: rate.NewLimiter(rate.Every(m.every), m.burst)}
		m.clients[addr] = c
	}
	c.seen = now
	r := c.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (m *mutationLimiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api.Mutating(r.Method) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			if ok, wait := m.allow(host); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				api.WriteProblem(w, r, http.StatusTooManyRequests, "too many changes from this address; retry later")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
