// Package registry is the dev stack's embedded Confluent-compatible Schema
// Registry. It serves franz-go's srfake registry and adds the two things a
// real registry has and srfake lacks: compatibility enforcement on
// registration, and persistence of every schema and config change across
// restarts, with the same ids and versions.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"go.uber.org/zap"
)

// readHeaderTimeout bounds slow clients; the registry only serves local tools.
const readHeaderTimeout = 10 * time.Second

// Server is an embedded Schema Registry backed by a data dir.
type Server struct {
	logger     *zap.Logger
	fake       *srfake.Registry
	handler    http.Handler
	avroCompat *avro.SchemaCompatibility

	// mu serialises changes so that check, register and persist act as one,
	// and guards the fields below.
	mu            sync.Mutex
	store         *store
	versions      map[string][]int // subject's versions, ascending, as srfake holds them
	globalLevel   sr.CompatibilityLevel
	subjectLevels map[string]sr.CompatibilityLevel

	life      sync.Mutex // guards the fields below
	httpSrv   *http.Server
	serveDone chan error
	url       string
	closed    bool
}

// New loads persisted state from dataDir (created if missing). logger may be zap.NewNop().
func New(dataDir string, logger *zap.Logger) (*Server, error) {
	st, records, err := openStore(dataDir, logger)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	s := &Server{
		logger:        logger,
		avroCompat:    avro.NewSchemaCompatibility(),
		store:         st,
		versions:      make(map[string][]int),
		globalLevel:   sr.CompatBackward,
		subjectLevels: make(map[string]sr.CompatibilityLevel),
	}
	if err := s.restore(records); err != nil {
		return nil, errors.Join(fmt.Errorf("registry: load %s: %w", st.path, err), st.close())
	}
	s.handler = s.routes()
	logger.Info("schema registry state loaded",
		zap.String("path", st.path), zap.Int("records", len(records)), zap.Int("subjects", len(s.versions)))
	return s, nil
}

// restore rebuilds the registry from the log. Config records are folded
// first because srfake takes the global level only when it is created.
func (s *Server) restore(records []record) error {
	for i, rec := range records {
		switch rec.Op {
		case opSchema:
		case opConfig:
			if rec.Level.String() == "" {
				return fmt.Errorf("line %d: config record without a compatibility level", i+1)
			}
			if rec.Subject == "" {
				s.globalLevel = rec.Level
			} else {
				s.subjectLevels[rec.Subject] = rec.Level
			}
		case opConfigReset:
			delete(s.subjectLevels, rec.Subject)
		default:
			return fmt.Errorf("line %d: unknown record kind %q", i+1, rec.Op)
		}
	}
	s.fake = srfake.NewRegistry(srfake.WithGlobalCompat(s.globalLevel))
	seeded := make(map[int]bool)
	for i, rec := range records {
		if rec.Op != opSchema {
			continue
		}
		if err := s.restoreSchema(rec, seeded); err != nil {
			return fmt.Errorf("line %d: subject %q version %d id %d: %w", i+1, rec.Subject, rec.Version, rec.ID, err)
		}
	}
	for subject, level := range s.subjectLevels {
		if err := s.fake.SetCompat(subject, level); err != nil {
			return fmt.Errorf("subject %q compatibility: %w", subject, err)
		}
	}
	for _, vs := range s.versions {
		slices.Sort(vs)
	}
	return nil
}

// restoreSchema puts one logged version back into srfake under its old id and version.
func (s *Server) restoreSchema(rec record, seeded map[int]bool) (err error) {
	if rec.Schema == nil || rec.Subject == "" || rec.Version <= 0 || rec.ID <= 0 {
		return errors.New("schema record lacks its subject, version, id or schema")
	}
	if seeded[rec.ID] {
		// srfake seeds an id only once. A later subject sharing the id got it
		// by registering the same schema, so it is restored the same way.
		id, version, err := s.fake.RegisterSchema(rec.Subject, *rec.Schema)
		if err != nil {
			return err
		}
		if id != rec.ID || version != rec.Version {
			return fmt.Errorf("re-registering gave id %d version %d", id, version)
		}
	} else {
		// SeedSchema panics on invalid or duplicate input; a corrupt log must
		// make New fail, not crash the process.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%v", p)
			}
		}()
		s.fake.SeedSchema(rec.Subject, rec.Version, rec.ID, *rec.Schema)
		seeded[rec.ID] = true
	}
	s.versions[rec.Subject] = append(s.versions[rec.Subject], rec.Version)
	return nil
}

// Handler returns the registry's HTTP API, for serving on a listener of the caller's choosing.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:8081" or "127.0.0.1:0") and serves in
// a goroutine it owns; it returns once listening.
func (s *Server) Start(addr string) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return errors.New("registry: start after shutdown")
	}
	if s.httpSrv != nil {
		return errors.New("registry: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("registry: listen on %s: %w", addr, err)
	}
	fresh := &freshConns{conns: make(map[net.Conn]struct{})}
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          zap.NewStdLog(s.logger),
		ConnState:         fresh.track,
	}
	s.httpSrv.RegisterOnShutdown(fresh.closeAll)
	s.serveDone = make(chan error, 1)
	s.url = "http://" + ln.Addr().String()
	go func(srv *http.Server, done chan<- error) {
		done <- srv.Serve(ln)
	}(s.httpSrv, s.serveDone)
	s.logger.Info("schema registry listening", zap.String("url", s.url))
	return nil
}

// URL is the registry's base URL, "http://127.0.0.1:port", after Start.
func (s *Server) URL() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.url
}

// Shutdown is idempotent; stops the HTTP server (bounded by ctx) and waits for
// the serve goroutine; flushes/closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("registry: graceful shutdown: %w", err))
			if err := s.httpSrv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("registry: close: %w", err))
			}
		}
		if err := <-s.serveDone; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("registry: serve: %w", err))
		}
	}
	// Taking mu waits for a change still in flight after a forced Close.
	s.mu.Lock()
	if err := s.store.close(); err != nil {
		errs = append(errs, fmt.Errorf("registry: %w", err))
	}
	s.mu.Unlock()
	return errors.Join(errs...)
}

// freshConns tracks connections that have not sent a request yet. Go's HTTP
// client dials spare connections it may never use, and http.Server.Shutdown
// waits 5 s before treating those as idle; nothing is in flight on them, so
// they are closed as soon as shutdown starts.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		// The server notices the close and ends the connection; an error
		// here only means it is already gone.
		_ = c.Close()
	}
}
