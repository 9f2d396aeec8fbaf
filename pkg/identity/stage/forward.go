package stage

import (
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
// serves nothing from it: it forwards every API request to the active
// instance, whose URL the active one wrote on the lease topic when it
// claimed its epoch, and answers 503 standby when it cannot.

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
		return strings.TrimSuffix(configured, "/")
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

// activeURL remembers the active instance's URL read from the lease topic.
type activeURL struct {
	mu   sync.Mutex
	url  string
	read time.Time
}

// ActiveURL returns the URL of the instance that claimed the latest epoch
// ("" when none named one: no epoch yet, or one claimed by an older version
// that wrote only its hostname).
func (s *Stage) ActiveURL(ctx context.Context) (string, error) {
	s.activeURL.mu.Lock()
	defer s.activeURL.mu.Unlock()
	if time.Since(s.activeURL.read) < activeURLTTL {
		return s.activeURL.url, nil
	}
	end, err := s.endOffsets(ctx, s.topics.IdentityLease)
	if err != nil {
		return "", err
	}
	latest := ""
	if end[0] > 0 {
		err := s.readFrom(ctx, s.topics.IdentityLease, map[int]int64{0: end[0] - 1}, func(m kafkago.Message) bool {
			if string(m.Key) == epochKey {
				latest = string(m.Value)
			}
			return true
		})
		if err != nil {
			return "", err
		}
	}
	if u, err := url.Parse(latest); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		latest = ""
	}
	s.activeURL.url, s.activeURL.read = latest, time.Now()
	return latest, nil
}

// forward sends a request this standby cannot serve to the active instance,
// or answers 503 standby when there is none to send it to.
func (a *API) forward(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(forwardedHeader); by != "" {
		a.refuse(w, fmt.Sprintf("%v (a request forwarded by %s reached another standby)", ErrStandby, by))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	target, err := a.stage.ActiveURL(ctx)
	cancel()
	if err != nil {
		a.logger.Warn("identity: reading the active instance's URL", zap.Error(err))
	}
	self := a.stage.advertise
	if target == "" || target == self {
		// Nobody to forward to: no instance claimed an epoch with a URL, or
		// this one was the last to and its successor has not yet.
		a.refuse(w, ErrStandby.Error())
		return
	}
	to, err := url.Parse(target)
	if err != nil {
		a.refuse(w, ErrStandby.Error())
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(to)
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, self)
		},
		Transport: a.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			a.logger.Warn("identity: forwarding to the active instance", zap.String("active", target), zap.Error(err))
			a.refuse(w, fmt.Sprintf("%v, and %s does not answer", ErrStandby, target))
		},
	}
	proxy.ServeHTTP(w, r)
}

// refuse answers 503 standby: retry later, when the lease has settled.
func (a *API) refuse(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, apiError{"standby", message})
}

// forwardTransport connects to the active instance: a dead one is found out
// within seconds (its successor needs about 6 s to take over anyway).
func forwardTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.Proxy = nil // the active instance is a peer, never behind the environment's proxy
	return t
}
