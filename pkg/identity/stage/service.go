package stage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/schemas"
)

// Service is the identity service: the stage, its API on 8082 (described by
// schemas/openapi/identity.json) and an admin server.
type Service struct {
	cfg    config.Identity
	logger *zap.Logger
	stage  *Stage
	srv    *http.Server
	routes []string // every pattern on the API's mux, for Routes
	admin  *health.AdminServer
	ln     net.Listener
	// forwarding carries a standby's requests to the active instance.
	forwarding *http.Transport

	cancel   context.CancelFunc
	runDone  chan struct{} // closed when the worker returns
	runErr   error
	stopOnce sync.Once
	stopErr  error
}

// NewService reaches Kafka and the registry (bounded by the start-up timeout),
// creates topics and registers schemas. Nothing runs until Start.
func NewService(ctx context.Context, cfg config.Identity, reg *prometheus.Registry, logger *zap.Logger) (*Service, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	client, err := avro.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, err
	}
	var metrics *Metrics
	var gatherer prometheus.Gatherer
	if reg != nil {
		metrics, gatherer = NewMetrics(reg), reg
	}
	st, err := New(ctx, cfg, avro.NewSerde(client), metrics, logger)
	if err != nil {
		return nil, err
	}
	checker := health.NewChecker()
	checker.Add("kafka", st.cluster.Ping)
	checker.Add("schema_registry", func(ctx context.Context) error { return avro.Ping(ctx, client) })
	mux := http.NewServeMux()
	forwarding := forwardTransport()
	routes := (&API{stage: st, region: cfg.DefaultRegion, logger: logger, transport: forwarding}).Register(mux)
	routes = append(routes, health.Register(mux, checker, gatherer)...)
	mux.HandleFunc(statusPattern, func(w http.ResponseWriter, _ *http.Request) {
		var stats any
		st.Read(func(g *identity.Graph) { stats = g.Stats() })
		writeJSON(w, http.StatusOK, map[string]any{"active": st.Active(), "serving": st.Serving(), "processed": st.Processed(), "graph": stats})
	})
	mux.Handle(openAPIPattern, health.StaticJSON(schemas.MustOpenAPI(schemas.OpenAPIIdentity)))
	routes = append(routes, statusPattern, openAPIPattern)
	s := &Service{
		cfg: cfg, logger: logger, stage: st, routes: routes, forwarding: forwarding,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(logger.Named("http"))},
	}
	if cfg.AdminAddr != "" {
		s.admin = health.NewAdminServer(checker, gatherer)
	}
	return s, nil
}

// Patterns of the service's own routes (API.Register and health.Register add the others).
const (
	statusPattern  = "GET /v1/status"
	openAPIPattern = "GET /openapi.json"
)

// Routes lists every ServeMux pattern the API answers ("METHOD /path"), so
// tests can hold the OpenAPI document to exactly this set.
func (s *Service) Routes() []string { return slices.Clone(s.routes) }

// Stage is the running stage (tests and the dev stack read it).
func (s *Service) Stage() *Stage { return s.stage }

// Start listens and starts the worker; it returns quickly.
func (s *Service) Start() error {
	if s.admin != nil {
		if err := s.admin.Start(s.cfg.AdminAddr); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("identity: listening on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.stage.SetAdvertiseURL(advertiseURL(s.cfg.AdvertiseURL, ln.Addr()))
	go func() { _ = s.srv.Serve(ln) }() // ends when Shutdown closes the server
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.runDone = make(chan struct{})
	go func() {
		defer close(s.runDone)
		s.runErr = s.stage.Run(ctx)
	}()
	s.logger.Info("identity listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the API's address after Start.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Done is closed when the worker stops: on Shutdown, or on its own after a
// fatal error, which Err then returns.
func (s *Service) Done() <-chan struct{} { return s.runDone }

// Err is the worker's error once Done is closed.
func (s *Service) Err() error { return s.runErr }

// Shutdown stops the API, stops the worker (which finishes its batch and
// saves a final snapshot), then closes the producer. Bounded by ctx; idempotent.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.ln != nil {
			errs = append(errs, s.srv.Shutdown(ctx))
		}
		s.forwarding.CloseIdleConnections()
		if s.cancel != nil {
			s.cancel()
			select {
			case <-s.runDone:
				errs = append(errs, s.runErr)
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("identity: worker did not stop in time: %w", ctx.Err()))
			}
		}
		errs = append(errs, s.stage.Close())
		if s.admin != nil {
			errs = append(errs, s.admin.Shutdown(ctx))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
