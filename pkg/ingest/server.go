package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/schemas"
)

// Defaults of ServerConfig.
const (
	DefaultMaxBodyBytes   = 10 << 20 // larger bodies are answered 413
	DefaultMaxItems       = 10_000   // bodies of more items are answered 413
	DefaultProduceTimeout = 10 * time.Second
)

// maxListedErrors bounds the rejected items listed in an answer; the rest
// are counted in errors_omitted (all are dead-lettered). A body of tiny bad
// items would otherwise get an answer many times its own size.
const maxListedErrors = 1000

// APIKeys holds the accepted Bearer keys, each naming its source. It can be
// replaced at run time (key rotation) without a restart. Keys are kept hashed so
// that a lookup does not leak key prefixes through timing.
type APIKeys struct {
	keys     atomic.Pointer[map[[32]byte]string]
	required bool
}

// NewAPIKeys returns a key set; keys maps key → source name. With no keys the
// API is open; with keys, it stays closed even if a rotation later sets none
// (an empty rotation locks everyone out rather than opening the API).
func NewAPIKeys(keys map[string]string) *APIKeys {
	k := &APIKeys{required: len(keys) > 0}
	k.Set(keys)
	return k
}

// Set replaces every key.
func (k *APIKeys) Set(keys map[string]string) {
	m := make(map[[32]byte]string, len(keys))
	for key, source := range keys {
		m[sha256.Sum256([]byte(key))] = source
	}
	k.keys.Store(&m)
}

// Enabled reports whether any key is configured (if none, the API is open).
func (k *APIKeys) Enabled() bool { return k != nil && k.required }

// Source returns the source a key belongs to.
func (k *APIKeys) Source(key string) (string, bool) {
	s, ok := (*k.keys.Load())[sha256.Sum256([]byte(key))]
	return s, ok
}

// ServerConfig configures the ingest HTTP server.
type ServerConfig struct {
	Addr         string
	MaxBodyBytes int64
	// MaxItems bounds the items of one body: each costs memory and work, and
	// tiny ones are cheap to send by the hundred thousand.
	MaxItems int
	Keys     *APIKeys // nil or empty: no authentication
	// ProduceTimeout bounds the wait for Kafka per request; past it the client
	// gets 503 and retries, instead of hanging while the cluster is away.
	ProduceTimeout time.Duration
}

// Server is ingest's HTTP API: POST /v1/{channel}/events, plus health,
// metrics and its OpenAPI document (schemas/openapi/ingest.json).
type Server struct {
	cfg     ServerConfig
	proc    *Processor
	metrics *Metrics
	logger  *zap.Logger
	srv     *http.Server
	routes  []string // every pattern on the mux, for Routes

	ln       net.Listener
	serveErr chan error
	stopOnce sync.Once
	stopErr  error
}

// NewServer builds the server; Start makes it listen.
func NewServer(cfg ServerConfig, proc *Processor, checker *health.Checker, gatherer prometheus.Gatherer, metrics *Metrics, logger *zap.Logger) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = DefaultProduceTimeout
	}
	s := &Server{cfg: cfg, proc: proc, metrics: metrics, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc(eventsPattern, s.handleEvents)
	mux.Handle(openAPIPattern, health.StaticJSON(schemas.MustOpenAPI(schemas.OpenAPIIngest)))
	s.routes = append([]string{eventsPattern, openAPIPattern}, health.Register(mux, checker, gatherer)...)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}
	return s
}

// Patterns of the API's own routes (health.Register adds the others).
const (
	eventsPattern  = "POST /v1/{channel}/events"
	openAPIPattern = "GET /openapi.json"
)

// Handler exposes the routes (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Routes lists every ServeMux pattern the server answers ("METHOD /path"), so
// tests can hold the OpenAPI document to exactly this set.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// Start listens and serves in the background; it returns once listening.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ingest: listening on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.serveErr = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting requests and waits, bounded by ctx, for the requests
// in flight: each of them answers only after Kafka acknowledged its events, so
// nothing answered 202 is lost. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if s.ln == nil {
			return
		}
		err := s.srv.Shutdown(ctx)
		if serveErr := <-s.serveErr; serveErr != nil && err == nil {
			err = serveErr
		}
		if err != nil {
			s.stopErr = fmt.Errorf("ingest: shutting down HTTP server: %w", err)
		}
	})
	return s.stopErr
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	channel := r.PathValue("channel")
	if s.cfg.Keys.Enabled() {
		scheme, key, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer") // RFC 6750: the scheme is case-insensitive
		if _, valid := s.cfg.Keys.Source(strings.TrimSpace(key)); !ok || !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cx360"`)
			s.writeJSON(w, http.StatusUnauthorized, errorBody{Code: "unauthorized", Message: "a valid Authorization: Bearer <key> header is required"})
			return
		}
	}
	if !s.proc.HasChannel(channel) {
		s.writeJSON(w, http.StatusNotFound, errorBody{Code: event.CodeUnknownChannel, Message: fmt.Sprintf("unknown channel %q", channel)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Code: "body_too_large", Message: fmt.Sprintf("body exceeds %d bytes; split it into smaller batches", s.cfg.MaxBodyBytes)})
			return
		}
		s.writeJSON(w, http.StatusBadRequest, errorBody{Code: "read_failed", Message: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProduceTimeout)
	defer cancel()
	items, index, err := event.SplitBody(body, isNDJSON(r.Header.Get("Content-Type")), s.cfg.MaxItems)
	if errors.Is(err, event.ErrTooManyItems) {
		// Like a body over the size limit, nothing is stored: the client
		// splits the batch and sends it again.
		s.writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Code: "too_many_items", Message: fmt.Sprintf("body holds more than %d items; split it into smaller batches", s.cfg.MaxItems)})
		return
	}
	if err != nil {
		if dlErr := s.proc.RejectBody(ctx, channel, body, err); dlErr != nil {
			s.unavailable(w, dlErr)
			return
		}
		s.writeJSON(w, http.StatusBadRequest, errorBody{Code: event.CodeUnparseableBody, Message: err.Error()})
		return
	}
	res, err := s.proc.ProcessIndexed(ctx, channel, items, index)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	if len(res.Errors) > maxListedErrors {
		res.ErrorsOmitted = len(res.Errors) - maxListedErrors
		res.Errors = res.Errors[:maxListedErrors]
	}
	s.writeJSON(w, http.StatusAccepted, res)
}

// unavailable answers 503: nothing of the request may be assumed durable and
// the client should retry (event ids make the retry safe).
func (s *Server) unavailable(w http.ResponseWriter, err error) {
	s.logger.Warn("request failed; answering 503", zap.Error(err))
	w.Header().Set("Retry-After", "1")
	s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Code: "unavailable", Message: "events could not be stored durably; retry the request"})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	s.metrics.request(strconv.Itoa(status))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("writing response", zap.Error(err))
	}
}

func isNDJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return true
	}
	return false
}
