package stage

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// A standby's graph is its own last snapshot: it may be hours old and may
// still hold a customer the active instance erased since. So a standby
// serves none of the profile API from it: it forwards those requests to the
// active instance, whose URL the active one wrote on the lease topic when it
// claimed its epoch, and answers 503 standby when it cannot. (Its own
// /v1/status, health and metrics it answers itself.)

// forwardedHeader marks a request a standby forwarded. An instance that gets
// one while not active refuses it instead of forwarding it again (two
// standbys naming each other would loop).
const forwardedHeader = "Cx360-Forwarded-By"

// activeURLTTL is how long a standby trusts the active URL it last read:
// long enough that forwarding costs no Kafka round trip per request, short
// enough to follow a takeover (which takes the group's session timeout,
// 6 s) promptly.
const activeURLTTL = time.Second

// advertiseURL is the URL other instances reach this one's API at: the
// configured one, or http://host:port of the listener, with the hostname
// when it listens on every interface.
func advertiseURL(configured string, ln net.Addr) string {
	if configured != "" {
		// In the form ActiveURL reads it back in, so an instance knows its own.
		configured = strings.TrimSuffix(configured, "/")
		if u, err := url.Parse(configured); err == nil {
			return u.String()
		}
		return configured
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if host, err = os.Hostname(); err != nil {
			return ""
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// activeURL remembers the active instance's URL read from the lease topic,
// and the topic's end offset it was read at: while the end stays, so does
// the latest claim, and only the offset needs asking.
type activeURL struct {
	mu   sync.Mutex
	url  *url.URL // nil: none
	end  int64    // the lease topic's end offset when url was read
	read time.Time
}

// ActiveURL returns the URL of the instance that claimed the latest epoch
// (nil when none named one: no epoch yet, or one claimed by an older version
// that wrote only its hostname). When Kafka cannot be asked, it returns the
// last URL it read along with the error: the instance there checks for
// itself whether it is active.
func (s *Stage) ActiveURL(ctx context.Context) (*url.URL, error) {
	c := &s.activeURL
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.read) < activeURLTTL {
		return c.url, nil
	}
	ends, err := s.endOffsets(ctx, s.topics.IdentityLease)
	if err != nil {
		return c.url, err
	}
	end := ends[0]
	if end != c.end || c.read.IsZero() {
		var latest string
		if end > 0 {
			err := s.readFrom(ctx, s.topics.IdentityLease, map[int]int64{0: end - 1}, func(m kafkago.Message) bool {
				if string(m.Key) == epochKey {
					latest = string(m.Value)
				}
				return true
			})
			if err != nil {
				return c.url, err
			}
		}
		c.url, c.end = nil, end
		if u, err := url.Parse(latest); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			c.url = u
		}
	}
	c.read = time.Now()
	return c.url, nil
}

// Bounds on a forwarded request, past which the standby answers 503: a read
// takes milliseconds; a command waits for its outputs to be acknowledged
// and the graph saved (each bounded by 30 s on the active instance).
const (
	forwardReadTimeout    = 15 * time.Second
	forwardCommandTimeout = 90 * time.Second
)

// forward sends a request this standby cannot serve to the active instance.
// An instance between two of its own terms (a standby joining the group ends
// one) serves the request itself if its graph may still answer and a fresh
// read of the lease topic shows nobody claimed the lease since. Otherwise it
// answers 503 standby when there is no other instance to send it to.
func (a *API) forward(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if a.stage.Serving() && a.stage.LeaseUnchanged(ctx) {
		serve(w, r) // nothing is forwarded: no loop
		return
	}
	if by := r.Header.Get(forwardedHeader); by != "" {
		a.refuse(w, fmt.Sprintf("%v (a request forwarded by %s reached another standby)", ErrStandby, by))
		return
	}
	target, err := a.stage.ActiveURL(ctx)
	if err != nil {
		a.logger.Debug("identity: reading the active instance's URL", zap.Error(err))
	}
	self := a.stage.advertise
	if target == nil || target.String() == self {
		// Nobody to forward to: no instance claimed an epoch with a URL (or
		// only an older version did, which names no URL), or this one was
		// the last to and its graph may not answer.
		a.refuse(w, ErrStandby.Error())
		return
	}
	timeout := forwardCommandTimeout
	if r.Method == http.MethodGet {
		timeout = forwardReadTimeout
	}
	ctx, cancel = context.WithTimeout(r.Context(), timeout)
	defer cancel()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, cmp.Or(self, "a standby"))
		},
		Transport: a.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil || ctx.Err() == context.DeadlineExceeded {
				a.logger.Warn("identity: forwarding to the active instance", zap.Stringer("active", target), zap.Error(err))
			}
			a.refuse(w, fmt.Sprintf("%v, and %s does not answer", ErrStandby, target))
		},
	}
	proxy.ServeHTTP(w, r.WithContext(ctx))
}

// refuse answers 503 standby: retry later, when the lease has settled.
func (a *API) refuse(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, apiError{"standby", message})
}

// forwardTransport connects to the active instance: one that is gone is
// found out within seconds when its host refuses the connection, and within
// the request's bound otherwise.
func forwardTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.Proxy = nil // the active instance is a peer, never behind the environment's proxy
	t.MaxIdleConnsPerHost = 16
	return t
}
