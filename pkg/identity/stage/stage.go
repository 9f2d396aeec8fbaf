// Package stage runs identity resolution as a pipeline stage: it consumes
// cx.events, resolves every event in the identity graph, and produces
// cx.journeys, cx.customers and cx.identity.changes; it serves the profile API
// and elects, through a Kafka consumer group, the one instance that works.
//
// Durability: the graph and the input offsets it covers are saved together in
// an atomic snapshot, taken only after every output of those inputs was
// acknowledged by Kafka (acks=all). After a crash the stage reloads the
// snapshot and replays from its offsets; the graph being a deterministic
// function of its evidence, the replay ends in the graph of an uninterrupted
// run, and the re-produced outputs are idempotent downstream (same event ids,
// same change ids, higher profile versions).
package stage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/linkedin/goavro/v2"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/deadletter"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/schemas"
)

// errNotApplied marks an error after which the graph is as it was before
// the failed step (a batch cut short before it was resolved, a reconcile
// that failed before it changed anything): the worker stops, but the graph
// does not count as broken, so its final snapshot is still taken.
var errNotApplied = errors.New("nothing was applied")

// codecs are the registered schemas of the stage's outputs.
type codecs struct {
	event, journey, profile, change, dlq *avro.Codec
	// journeyHead encodes a journey's fields before its event. Avro's binary
	// form of a record is its fields' encodings in order, so a journey is
	// header + head + the incoming event's own Avro body, when that body was
	// written with the cx.Event schema the journey schema embeds: the event
	// is never re-encoded.
	journeyHead *goavro.Codec
}

const journeyHeadSchema = `{"type":"record","name":"JourneyHead","namespace":"cx.internal","fields":[{"name":"customer_id","type":"string"},{"name":"phase","type":"string"}]}`

// Stage is the identity stage. Run it with Run; the API reads the graph
// concurrently under mu.
type Stage struct {
	cfg     config.Identity
	topics  config.Topics
	rules   identity.Rules
	logger  *zap.Logger
	serde   *avro.Serde
	codecs  codecs
	cluster kafka.Cluster
	prod    *kafka.Producer
	store   *snapshotStore
	metrics *Metrics

	mu    sync.RWMutex // guards graph and dirty
	graph *identity.Graph
	// dirty holds customers changed since profiles were last published: under
	// load a customer touched by many events in a second is published once.
	dirty     map[string]bool
	lastFlush time.Time

	active atomic.Bool // this instance holds the lease and works
	// serving: the graph holds every operator action any instance
	// published, so that it may answer the API: set once a term has applied
	// its predecessors' actions again, kept across a clean end of term (and
	// into the next when nobody else held the lease in between), cleared
	// when the graph is replaced. Before, it may hold a customer a
	// predecessor erased.
	serving atomic.Bool
	// lastTerm is what this instance's last term left when it ended cleanly
	// (nil otherwise): written by a term's worker before it returns, read by
	// Run and the next term after.
	lastTerm *termEnd
	// claimed is the epoch this instance last claimed (0: none): while the
	// lease topic ends with that claim, nobody has held the lease since.
	// claiming: a claim of its own is on its way, and may already be on
	// the topic before claimed says so.
	claimed  atomic.Int64
	claiming atomic.Bool
	// commandsOpen: the worker takes operator commands (reconciled); until
	// then Do answers ErrCatchingUp at once rather than wait for it.
	commandsOpen atomic.Bool
	heldLease    atomic.Bool  // it held the lease in its last generation (kept on rebalances)
	processed    atomic.Int64 // input records resolved and acknowledged since start
	commands     chan command
	// working is closed when the worker of the current term stops taking
	// commands (nil before the first term): a command sent then would wait
	// for nobody.
	working atomic.Pointer[chan struct{}]
	// advertise is this instance's API URL, written with each epoch it
	// claims (set by SetAdvertiseURL before Run); activeURL caches the one
	// the latest epoch names.
	advertise string
	activeURL activeURL
}

// epochKey is the key of the records claiming an epoch on the lease topic;
// their value is the claiming instance's API URL.
const epochKey = "epoch"

// SetAdvertiseURL sets the URL other instances forward API requests to while
// this one is active. Call it before Run.
func (s *Stage) SetAdvertiseURL(u string) { s.advertise = u }

// command is an operator action (unlink, split, erase) applied by the worker
// loop, so that the graph has a single writer.
type command struct {
	apply func(g *identity.Graph, at time.Time) (identity.Result, error)
	done  chan commandResult
}

type commandResult struct {
	res identity.Result
	err error
}

// ErrStandby is returned by commands sent to an instance that does not hold the lease.
var ErrStandby = errors.New("this identity instance is on standby; another one is active")

// ErrCatchingUp is the answer of an instance that took the lease and has not
// yet caught up with the events and its predecessors' operator actions.
var ErrCatchingUp = errors.New("this identity instance took the lease and is catching up with the events and its predecessors' erasures, splits and unlinks")

// New prepares the stage: topics, schemas, producer. Nothing is consumed until Run.
func New(ctx context.Context, cfg config.Identity, serde *avro.Serde, metrics *Metrics, logger *zap.Logger) (*Stage, error) {
	rules, err := identity.LoadRules(cfg.RulesFile)
	if err != nil {
		return nil, err
	}
	topics := cfg.Kafka.Topics()
	p, r := cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor
	specs := []kafka.TopicSpec{
		{Name: topics.Events, Partitions: p, ReplicationFactor: r},
		{Name: topics.DLQ, Partitions: p, ReplicationFactor: r},
		{Name: topics.Journeys, Partitions: p, ReplicationFactor: r},
		{Name: topics.Customers, Partitions: p, ReplicationFactor: r, Compacted: true},
		{Name: topics.IdentityChanges, Partitions: p, ReplicationFactor: r},
		// Compacted: its last epoch claim, which names the active instance's
		// URL, must outlive any retention period of a long, quiet term.
		{Name: topics.IdentityLease, Partitions: 1, ReplicationFactor: r, Compacted: true},
	}
	cluster, err := kafka.NewCluster(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	if err := cluster.EnsureTopics(ctx, specs); err != nil {
		return nil, err
	}
	var c codecs
	for _, reg := range []struct {
		dst    **avro.Codec
		topic  string
		schema string
	}{
		{&c.event, topics.Events, schemas.Event},
		{&c.journey, topics.Journeys, schemas.JourneyEvent},
		{&c.profile, topics.Customers, schemas.CustomerProfile},
		{&c.change, topics.IdentityChanges, schemas.IdentityChange},
		{&c.dlq, topics.DLQ, schemas.DeadLetter},
	} {
		if *reg.dst, err = serde.RegisterTopic(ctx, reg.topic, reg.schema); err != nil {
			return nil, err
		}
	}
	if c.journeyHead, err = goavro.NewCodec(journeyHeadSchema); err != nil {
		return nil, fmt.Errorf("identity: journey head schema: %w", err)
	}
	store, err := openSnapshotStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Stage{
		cfg: cfg, topics: topics, rules: rules, logger: logger, serde: serde, codecs: c, store: store, metrics: metrics, cluster: cluster,
		prod:     cluster.NewProducer(kafka.WriterConfig{BatchTimeout: cfg.Kafka.BatchTimeout}, logger),
		commands: make(chan command),
		dirty:    map[string]bool{},
	}
	// Until elected, the instance holds no graph: a standby forwards the API
	// to the active instance, and loads its snapshot when it takes over.
	if s.graph, err = identity.NewGraph(rules); err != nil {
		return nil, err
	}
	return s, nil
}

// Active reports whether this instance holds the lease.
func (s *Stage) Active() bool { return s.active.Load() }

// Serving reports whether this instance's graph may answer the API: it holds
// every erasure, split and unlink any instance published (it applied its
// predecessors' again, or nobody else held the lease since its own term).
// An instance between two of its terms keeps it; whether nobody else has
// claimed the lease since, LeaseUnchanged tells.
func (s *Stage) Serving() bool { return s.serving.Load() }

// LeaseUnchanged reports, from a fresh read of the lease topic, whether the
// latest epoch claim is still this instance's own: then nobody has held the
// lease since its last term, and its graph, if Serving, may still answer.
func (s *Stage) LeaseUnchanged(ctx context.Context) bool {
	end, err := s.endOffsets(ctx, s.topics.IdentityLease)
	if err != nil {
		return false
	}
	// Read after the end: a claim completing meanwhile has updated claimed.
	claiming, claimed := s.claiming.Load(), s.claimed.Load()
	// An epoch is its claim's offset + 1, so the topic ends at the epoch
	// while that claim is the last; one past it while this instance's next
	// claim has landed but not yet been recorded.
	return claimed != 0 && (end[0] == claimed || (claiming && end[0] == claimed+1))
}

// ReadServing runs fn with the graph under the read lock if the graph may
// answer the API, and reports whether it did. The check is under the lock
// that guards replacing the graph, so fn never reads one that may not.
func (s *Stage) ReadServing(fn func(g *identity.Graph)) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.serving.Load() {
		return false
	}
	fn(s.graph)
	return true
}

// termEnd is what a term that ended with its final snapshot saved leaves for
// the instance's next term: the graph in memory is that snapshot.
type termEnd struct {
	epoch       int64
	offsets     map[int]int64
	changesFrom map[int]int64
	reconciled  bool
}

// Close releases the producer.
func (s *Stage) Close() error { return s.prod.Close() }

// Run takes part in the election and, while elected, resolves events. It
// returns when ctx ends, after a final snapshot.
func (s *Stage) Run(ctx context.Context) error {
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: s.cfg.GroupID, Brokers: s.cluster.Brokers, Dialer: s.cluster.Dialer(), Topics: []string{s.topics.IdentityLease},
		HeartbeatInterval: time.Second, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
		JoinGroupBackoff: time.Second, GroupBalancers: []kafkago.GroupBalancer{leaseBalancer{held: &s.heldLease}}, Logger: nil, ErrorLogger: kafkago.LoggerFunc(func(msg string, a ...any) {
			s.logger.Debug(fmt.Sprintf(msg, a...))
		}),
	})
	if err != nil {
		return fmt.Errorf("identity: joining group %s: %w", s.cfg.GroupID, err)
	}
	defer cg.Close()
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logger.Warn("identity: election failed; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		s.heldLease.Store(holdsLease(gen, s.topics.IdentityLease))
		if !s.heldLease.Load() {
			s.logger.Info("identity: standby (another instance holds the lease)", zap.Int32("generation", gen.ID))
			continue // Next blocks until the group rebalances
		}
		s.logger.Info("identity: elected active", zap.Int32("generation", gen.ID))
		var runErr error
		done := make(chan struct{})
		gen.Start(func(gctx context.Context) {
			defer close(done)
			// Work until the generation ends (lost lease) or Run's ctx ends (shutdown).
			wctx, cancel := context.WithCancel(gctx)
			defer cancel()
			stop := context.AfterFunc(ctx, cancel)
			defer stop()
			runErr = s.work(wctx, gctx, gen)
		})
		<-done
		s.active.Store(false)
		if s.lastTerm == nil {
			// Its graph holds what a failed term left; the next one reloads
			// the last snapshot. A clean term's graph goes on serving (as
			// the last active instance's, until another claims the lease).
			s.serving.Store(false)
		}
		if ctx.Err() != nil {
			return nil
		}
		if runErr != nil {
			// Kafka away, a disk full: stand down, let the group rebalance,
			// and come back from the last snapshot rather than exit.
			s.logger.Error("identity: worker failed; rejoining the election", zap.Error(runErr))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	}
}

func holdsLease(gen *kafkago.Generation, topic string) bool {
	for _, a := range gen.Assignments[topic] {
		if a.ID == 0 {
			return true
		}
	}
	return false
}

// work resolves events until ctx ends (shutdown or lost lease).
// ctx ends on shutdown or a lost lease; lease ends only with the lease (the
// generation). Outputs of work already resolved are finished under lease:
// on shutdown that saves a replay, and after a lost lease nothing more may
// be published, for the next holder may have started.
func (s *Stage) work(ctx, lease context.Context, gen *kafkago.Generation) error {
	var g *identity.Graph
	var offsets, changesFrom map[int]int64
	prev := s.lastTerm
	s.lastTerm = nil
	if prev != nil {
		// The graph this instance ended its last term with is the final
		// snapshot it saved: go on with it rather than load that snapshot
		// into a second graph (every rebalance would hold two for seconds).
		s.mu.RLock()
		g = s.graph
		s.mu.RUnlock()
		offsets, changesFrom = maps.Clone(prev.offsets), prev.changesFrom
	} else {
		// Drop the graph a failed term left before loading: both in memory
		// at once would double the peak.
		empty, err := identity.NewGraph(s.rules)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.serving.Store(false)
		s.graph = empty
		s.mu.Unlock()
		loaded, snap, err := s.store.load(s.rules)
		switch {
		case errors.Is(err, errNoSnapshot):
			loaded, snap = empty, header{Offsets: map[int]int64{}}
		case err != nil:
			return err
		}
		// The changes this instance's predecessors published past the
		// loaded snapshot start where it says the topic ended. Until
		// reconciled, every snapshot keeps pointing there; after, at where
		// the topic ended while this instance still held the lease.
		g, offsets, changesFrom = loaded, snap.Offsets, snap.ChangesEnd
		s.mu.Lock()
		s.graph = g
		s.mu.Unlock()
	}
	epoch, err := s.claimEpoch(ctx)
	if err != nil {
		return err
	}
	// When the record claiming this epoch directly follows this instance's
	// last claim, nobody held the lease in between: no earlier instance's
	// output or operator action is missing from the graph, and there is
	// nothing to reconcile (a standby joining the group ends a term and
	// starts the next this way).
	continuing := prev != nil && prev.reconciled && epoch == prev.epoch+1
	if !continuing {
		s.serving.Store(false)
	}
	g.SetEpoch(epoch)
	working := make(chan struct{})
	s.working.Store(&working)
	s.active.Store(true)
	s.logger.Info("identity: resuming", zap.Int64("epoch", epoch), zap.Any("offsets", offsets), zap.Any("graph", g.Stats()))

	in := make(chan kafkago.Message, 4*s.cfg.BatchSize)
	readCtx, stopReading := context.WithCancel(ctx)
	var readers sync.WaitGroup
	readErr := make(chan error, 1)
	partitions, err := s.partitions(ctx, s.topics.Events)
	if err != nil {
		stopReading()
		return err
	}
	// Where the input ended when this instance took over: once resolved up
	// to there, the instance reconciles what earlier instances published.
	resumeEnd, err := s.endOffsets(ctx, s.topics.Events)
	if err != nil {
		stopReading()
		return err
	}
	reconciled := continuing
	s.commandsOpen.Store(reconciled)
	defer s.commandsOpen.Store(false)
	for _, p := range partitions {
		readers.Add(1)
		from := offsets[p] // read here: settle writes offsets while the readers run
		go func() {
			defer readers.Done()
			if err := s.read(readCtx, p, from, in); err != nil && readCtx.Err() == nil {
				select {
				case readErr <- err:
				default:
				}
			}
		}()
	}
	defer func() {
		stopReading()
		readers.Wait()
	}()

	lastSnap := time.Now()
	dirty := false
	// broken: the graph holds events whose outputs were not acknowledged; it
	// must never be saved (the next start replays them from the last snapshot).
	broken := false

	// Resolving and producing overlap: while one batch's outputs are being
	// acknowledged, the next batch is resolved. Offsets advance only when a
	// batch's acknowledgement arrives.
	type job struct {
		msgs    []kafkago.Message
		offsets map[int]int64
		stats   batchStats
	}
	type ack struct {
		job job
		err error
	}
	jobs := make(chan job)
	acks := make(chan ack, 2)
	var producing sync.WaitGroup
	producing.Add(1)
	go func() {
		defer producing.Done()
		for j := range jobs {
			// A batch already resolved is worth finishing even on shutdown:
			// it saves a replay. Bounded, in case Kafka is gone.
			pctx, cancel := context.WithTimeout(lease, 30*time.Second)
			err := s.prod.Produce(pctx, j.msgs...)
			cancel()
			acks <- ack{j, err}
		}
	}()
	pending := 0
	settle := func(a ack) error {
		pending--
		if a.err != nil {
			broken = true
			return fmt.Errorf("identity: producing %d outputs: %w", len(a.job.msgs), a.err)
		}
		for p, o := range a.job.offsets {
			offsets[p] = o
		}
		dirty = true
		s.processed.Add(int64(a.job.stats.events))
		s.metrics.batchDone(a.job.stats.events, a.job.stats, time.Since(a.job.stats.start))
		return nil
	}
	drain := func() error {
		for pending > 0 {
			if err := settle(<-acks); err != nil {
				return err
			}
		}
		return nil
	}
	snapshot := func() error {
		if err := drain(); err != nil {
			return err
		}
		if !dirty || broken {
			return nil
		}
		// Also on shutdown or lost lease: finishing costs milliseconds and saves a replay.
		fctx, cancel := context.WithTimeout(lease, 30*time.Second)
		defer cancel()
		if err := s.flushProfiles(fctx); err != nil {
			broken = true
			return err
		}
		if reconciled && ctx.Err() == nil {
			if end, ok, err := s.changesEndWhileHolding(fctx, epoch); err != nil {
				return err
			} else if ok {
				changesFrom = end
			}
		}
		s.mu.RLock()
		err := s.store.save(s.graph, offsets, changesFrom)
		s.mu.RUnlock()
		if err != nil {
			return err
		}
		dirty, lastSnap = false, time.Now()
		s.metrics.snapshotTaken()
		commits := map[string]map[int]int64{s.topics.Events: {}}
		for p, o := range offsets {
			commits[s.topics.Events][p] = o
		}
		if err := gen.CommitOffsets(commits); err != nil {
			// Offsets in Kafka only serve lag monitoring: the snapshot is the truth.
			s.logger.Debug("identity: committing offsets to the group", zap.Error(err))
		}
		return nil
	}
	defer func() {
		if broken {
			s.serving.Store(false) // the graph holds what was not published
		}
		if err := snapshot(); err != nil {
			s.logger.Error("identity: final snapshot failed; the next start replays more", zap.Error(err))
		} else if !broken {
			s.lastTerm = &termEnd{epoch: epoch, offsets: maps.Clone(offsets), changesFrom: changesFrom, reconciled: reconciled}
		}
		close(jobs)
		producing.Wait()
	}()

	// The first tick comes at once: a term with no backlog reconciles (and
	// starts serving) without waiting a tick.
	tickEvery := min(s.cfg.SnapshotInterval, time.Second)
	ticker := time.NewTimer(0)
	defer ticker.Stop()
	defer close(working) // first of the defers: no command waits for the final snapshot
	batch := make([]kafkago.Message, 0, s.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return err
		case a := <-acks:
			if err := settle(a); err != nil {
				return err
			}
			continue
		case cmd := <-s.commands:
			if !reconciled {
				// The graph may lack a predecessor's actions: an erasure of a
				// customer it does not hold yet would answer "not found".
				cmd.done <- commandResult{err: ErrCatchingUp}
				continue
			}
			if err := drain(); err != nil {
				cmd.done <- commandResult{err: err}
				return err
			}
			res, err := s.command(lease, cmd)
			if err != nil && !errors.Is(err, identity.ErrNotFound) {
				broken = true // the graph changed but its outputs were not acknowledged
				cmd.done <- commandResult{res, err}
				return err
			}
			if err == nil {
				dirty = true
				if err = snapshot(); err != nil { // an operator's action is durable before it is answered
					cmd.done <- commandResult{res, err}
					return err // no later action may be answered as durable
				}
			}
			cmd.done <- commandResult{res, err}
			continue
		case <-ticker.C:
			ticker.Reset(tickEvery)
			if !reconciled && caughtUp(offsets, resumeEnd) {
				if err := drain(); err != nil {
					return err
				}
				// Publish what this instance owes first: an id merged since
				// the last profile flush is not yet tombstoned, and must not
				// look like a predecessor's leftover.
				fctx, cancel := context.WithTimeout(lease, 30*time.Second)
				err := s.flushProfiles(fctx)
				cancel()
				if err != nil {
					broken = true
					return err
				}
				if err := s.reconcile(ctx, lease, changesFrom, epoch); err != nil {
					if errors.Is(err, errNotApplied) {
						if ctx.Err() != nil {
							return nil // shutdown or a lost lease: the next holder reconciles
						}
						return err
					}
					broken = true // the graph may hold versions whose outputs were not acknowledged
					return err
				}
				reconciled = true
				s.commandsOpen.Store(true)
			}
			if time.Since(lastSnap) >= s.cfg.SnapshotInterval {
				if err := snapshot(); err != nil {
					return err
				}
			}
			continue
		case m := <-in:
			batch = append(batch, m)
		}
	fill:
		for len(batch) < s.cfg.BatchSize {
			select {
			case m := <-in:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		out, stats, err := s.process(ctx, batch)
		if err != nil {
			if errors.Is(err, errNotApplied) && ctx.Err() != nil {
				return nil // shutdown or a lost lease mid-batch: the batch is read again
			}
			broken = !errors.Is(err, errNotApplied)
			return err
		}
		next := map[int]int64{}
		for _, m := range batch {
			next[m.Partition] = m.Offset + 1
		}
		for sent := false; !sent; {
			select {
			case jobs <- job{msgs: out, offsets: next, stats: stats}:
				pending++
				sent = true
			case a := <-acks:
				if err := settle(a); err != nil {
					return err
				}
			}
		}
	}
}

// client is a Kafka client for the stage's requests outside consuming and
// producing; call the returned func when done.
func (s *Stage) client() (*kafkago.Client, func()) { return s.cluster.Client("cx360-identity") }

// endOffsets returns each partition's end offset on topic.
func (s *Stage) endOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	return s.listOffsets(ctx, topic, false)
}

// startOffsets returns each partition's first offset on topic.
func (s *Stage) startOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	return s.listOffsets(ctx, topic, true)
}

func (s *Stage) listOffsets(ctx context.Context, topic string, first bool) (map[int]int64, error) {
	at := kafkago.LastOffsetOf
	if first {
		at = kafkago.FirstOffsetOf
	}
	partitions, err := s.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	client, done := s.client()
	defer done()
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], at(p))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("identity: offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("identity: offset of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = answeredOffset(po, first)
	}
	return out, nil
}

// claimEpoch returns a number greater than any an earlier instance claimed:
// one plus the offset of a record this instance appends to the lease topic.
// Kafka's offsets only grow, across broker restarts and instances alike. The
// record names this instance's API URL, for standbys to forward requests to.
func (s *Stage) claimEpoch(ctx context.Context) (int64, error) {
	client, done := s.client()
	defer done()
	s.claiming.Store(true)
	defer s.claiming.Store(false) // after claimed is stored (LeaseUnchanged)
	resp, err := client.Produce(ctx, &kafkago.ProduceRequest{
		Topic: s.topics.IdentityLease, Partition: 0, RequiredAcks: kafkago.RequireAll,
		Records: kafkago.NewRecordReader(kafkago.Record{
			Time: time.Now(), Key: kafkago.NewBytes([]byte(epochKey)), Value: kafkago.NewBytes([]byte(s.advertise)),
		}),
	})
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		return 0, fmt.Errorf("identity: claiming an epoch on %s: %w", s.topics.IdentityLease, err)
	}
	epoch := resp.BaseOffset + 1
	s.claimed.Store(epoch)
	return epoch, nil
}

// answeredOffset digs the one offset a ListOffsets answer holds for a
// partition out of kafka-go's PartitionOffsets. kafka-go files the answer by
// the timestamp the broker sent back (-2 first, -1 last, else a real time),
// which brokers do not all set to the kind asked for, and presets the asked
// kind's field to 0.
func answeredOffset(po kafkago.PartitionOffsets, first bool) int64 {
	for o := range po.Offsets {
		return o
	}
	if first {
		if po.LastOffset >= 0 {
			return po.LastOffset
		}
		return max(po.FirstOffset, 0)
	}
	if po.FirstOffset >= 0 {
		return po.FirstOffset
	}
	return max(po.LastOffset, 0)
}

// readFrom calls fn for each record of topic, partition by partition, from
// the offsets from (nil: the start) up to where the topic ends now, until fn
// returns false.
func (s *Stage) readFrom(ctx context.Context, topic string, from map[int]int64, fn func(kafkago.Message) bool) error {
	next, err := s.startOffsets(ctx, topic)
	if err != nil {
		return err
	}
	for p, o := range from {
		next[p] = max(next[p], o) // records before the log start are gone
	}
	client, done := s.client()
	defer done()
	return kafka.FetchNew(ctx, client, topic, next, fn)
}

// caughtUp reports whether every partition was resolved up to its end.
func caughtUp(offsets, end map[int]int64) bool {
	for p, e := range end {
		if offsets[p] < e {
			return false
		}
	}
	return true
}

// reconcile makes what earlier instances published agree with the graph,
// once this instance has resolved everything they saw.
//
// Why: the graph is a deterministic function of the events, but the
// intermediate outputs are not. An instance killed past its last snapshot
// leaves profiles and changes on the topics; its successor replays from that
// snapshot, perhaps in another interleaving of partitions, and need not
// repeat them: a customer that never exists in the replay is never
// tombstoned, and an id merged in the predecessor's history but not in the
// replay's keeps, downstream, the identity_map row of that merge. So the
// successor tombstones every id that cx.customers holds live and the graph
// does not, and reasserts (identity.Graph.Reassert) where each of those ids
// stands, and each id named by a merge or split that the predecessors
// published past the loaded snapshot (from changesFrom, nil: the topic's
// start; changes of this instance's epoch and later are its own, and left
// out).
func (s *Stage) reconcile(ctx, lease context.Context, changesFrom map[int]int64, epoch int64) error {
	named, actions, scanned, err := s.namedBefore(ctx, changesFrom, epoch)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotApplied, err)
	}
	now := time.Now().UTC()
	var out []kafkago.Message
	s.mu.Lock()
	// The operator actions an earlier instance took past this instance's
	// snapshot (each instance keeps its own): applied again, in the order
	// they were taken, after the events they followed. An erased customer
	// is erased again, a split split again.
	touched := map[string]bool{}
	reapplied := 0
	for _, a := range actions {
		res, err := a.apply(s.graph)
		if errors.Is(err, identity.ErrNotFound) {
			continue // already in the snapshot, or nothing left of it
		}
		if err == nil {
			out, err = s.appendChanges(out, res.Changes)
		}
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("identity: re-applying %s %s: %w", strings.TrimSpace(a.kind), a.subject, err)
		}
		reapplied++
		for _, id := range append(res.Updated, res.Removed...) {
			touched[id] = true
		}
	}
	// The graph now holds every action any instance took: it may answer
	// the API while the rest (reading every customer) goes on.
	s.serving.Store(true)
	s.mu.Unlock()

	// Which ids cx.customers holds live: a key's last record (by partition,
	// then offset) wins. Only that is kept, not the profiles: the topic holds
	// every customer.
	live := map[string]bool{}
	if err := s.readFrom(ctx, s.topics.Customers, nil, func(m kafkago.Message) bool {
		if isSingleton(m) {
			return true // not the graph's to keep: it stays as published
		}
		live[string(m.Key)] = m.Value != nil
		return true
	}); err != nil {
		if reapplied == 0 {
			return fmt.Errorf("identity: reading %s to reconcile: %w: %w", s.topics.Customers, errNotApplied, err)
		}
		// Re-applied actions are in the graph but not published: it must
		// not be saved, so this is no errNotApplied.
		return fmt.Errorf("identity: reading %s to reconcile: %w", s.topics.Customers, err)
	}
	published := make([]string, 0, len(live))
	for id, ok := range live {
		if ok {
			published = append(published, id)
		}
	}
	slices.Sort(published)
	s.mu.Lock()
	reassert := named
	tombstoned := 0
	for _, id := range published {
		if p, ok := s.graph.Profile(id); ok && p.CustomerID == id {
			continue
		}
		out = append(out, kafkago.Message{Topic: s.topics.Customers, Key: []byte(id), Value: nil})
		reassert = append(reassert, id)
		tombstoned++
	}
	res := s.graph.Reassert(reassert, "after a takeover, what an earlier instance published past its last snapshot", now)
	if out, err = s.appendChanges(out, res.Changes); err == nil {
		for _, id := range res.Updated {
			touched[id] = true
		}
		out, err = s.appendProfiles(out, touched, nil, now)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// In chunks, each with its own deadline: after a long outage there can be
	// many, and one deadline for all would fail every attempt alike.
	for chunk := range slices.Chunk(out, 10_000) {
		pctx, cancel := context.WithTimeout(lease, 30*time.Second)
		err := s.prod.Produce(pctx, chunk...)
		cancel()
		if err != nil {
			return fmt.Errorf("identity: producing reconciled profiles and changes: %w", err)
		}
	}
	s.logger.Info("identity: reconciled what earlier instances published",
		zap.Int("changes_scanned", scanned), zap.Int("ids_named", len(named)),
		zap.Int("tombstoned", tombstoned), zap.Int("reasserted_changes", len(res.Changes)), zap.Int("operator_actions_reapplied", reapplied))
	return nil
}

// namedBefore returns the ids named (as customer or related id) by the
// merges and splits on cx.identity.changes from the offsets from (nil: the
// start) on that an earlier epoch than epoch published, and how many changes
// it read. A record it cannot decode is logged and skipped: it names nothing
// this instance could act on, and failing would fail every restart.
func (s *Stage) namedBefore(ctx context.Context, from map[int]int64, epoch int64) ([]string, []operatorAction, int, error) {
	seen := map[string]bool{}
	var actions []operatorAction
	acted := map[operatorAction]bool{}
	scanned, undecodable := 0, 0
	var fetchErr error
	err := s.readFrom(ctx, s.topics.IdentityChanges, from, func(m kafkago.Message) bool {
		scanned++
		native, _, err := s.serde.Decode(ctx, m.Value)
		if ctx.Err() != nil || avro.IsRegistryUnavailable(err) {
			fetchErr = cmp.Or(ctx.Err(), err) // not the record's fault: reconcile later, whole
			return false
		}
		if err != nil {
			if undecodable++; undecodable <= 10 {
				s.logger.Warn("identity: skipping an undecodable change while reconciling", zap.String("topic", m.Topic),
					zap.Int("partition", m.Partition), zap.Int64("offset", m.Offset), zap.Error(err))
			}
			return true
		}
		c, _ := native.(map[string]any)
		if v, _ := c["version"].(int64); v>>identity.EpochShift >= epoch {
			return true // this instance's own
		}
		if a, ok := actionOf(c); ok && !acted[a] {
			acted[a] = true
			actions = append(actions, a)
		}
		if kind, _ := c["kind"].(string); kind != identity.ChangeMerge && kind != identity.ChangeSplit {
			return true
		}
		if id, _ := c["customer_id"].(string); id != "" {
			seen[id] = true
		}
		related, _ := c["related_ids"].([]any)
		for _, r := range related {
			if id, _ := r.(string); id != "" {
				seen[id] = true
			}
		}
		return true
	})
	if err == nil {
		err = fetchErr
	}
	if err != nil {
		return nil, nil, scanned, fmt.Errorf("identity: reading %s to reconcile: %w", s.topics.IdentityChanges, err)
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.SortStableFunc(actions, func(a, b operatorAction) int { return a.at.Compare(b.at) })
	return ids, actions, scanned, nil
}

// operatorAction is an unlink, split or erase that an earlier instance
// applied, read back from the changes it published.
type operatorAction struct {
	kind    string // identity.ChangeErase, identity.ReasonSplit or identity.ReasonUnlinked
	subject string // the customer id, or the identifier as "type:value"
	at      time.Time
}

// actionOf returns the operator action a change (goavro native form) records,
// if it records one.
func actionOf(c map[string]any) (operatorAction, bool) {
	kind, _ := c["kind"].(string)
	wrapped, _ := c["reason"].(map[string]any) // goavro's form of a ["null", "string"] union
	reason, _ := wrapped["string"].(string)
	at, _ := c["at"].(time.Time)
	at = at.UTC()
	switch {
	case kind == identity.ChangeErase:
		id, _ := c["customer_id"].(string)
		return operatorAction{identity.ChangeErase, id, at}, id != ""
	case kind == identity.ChangeSplit && strings.HasPrefix(reason, identity.ReasonSplit):
		return operatorAction{identity.ReasonSplit, strings.TrimPrefix(reason, identity.ReasonSplit), at}, true
	case kind == identity.ChangeSplit && strings.HasPrefix(reason, identity.ReasonUnlinked):
		return operatorAction{identity.ReasonUnlinked, strings.TrimPrefix(reason, identity.ReasonUnlinked), at}, true
	}
	return operatorAction{}, false
}

// apply re-applies the action to g, at the time it was first applied.
// identity.ErrNotFound means there was nothing left to do.
func (a operatorAction) apply(g *identity.Graph) (identity.Result, error) {
	switch a.kind {
	case identity.ChangeErase:
		return g.Erase(a.subject, a.at)
	case identity.ReasonSplit:
		return g.Split(a.subject, a.at)
	default:
		typ, value, _ := strings.Cut(a.subject, ":")
		return g.Unlink(typ, value, a.at)
	}
}

// changesEndWhileHolding returns where cx.identity.changes ends, and whether
// no other instance had claimed an epoch by then: only then can no change
// of a successor lie before that end, and may a snapshot record it.
func (s *Stage) changesEndWhileHolding(ctx context.Context, epoch int64) (map[int]int64, bool, error) {
	end, err := s.endOffsets(ctx, s.topics.IdentityChanges)
	if err != nil {
		return nil, false, err
	}
	lease, err := s.endOffsets(ctx, s.topics.IdentityLease)
	if err != nil {
		return nil, false, err
	}
	return end, lease[0] == epoch, nil
}

// partitions returns topic's partition ids, in order.
func (s *Stage) partitions(ctx context.Context, topic string) ([]int, error) {
	client, done := s.client()
	defer done()
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("identity: metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("identity: topic %s unavailable", topic)
	}
	var out []int
	for _, p := range md.Topics[0].Partitions {
		out = append(out, p.ID)
	}
	sort.Ints(out)
	return out, nil
}

// read feeds one partition's records, from offset on, into in.
func (s *Stage) read(ctx context.Context, partition int, offset int64, in chan<- kafkago.Message) error {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: s.cluster.Brokers, Dialer: s.cluster.Dialer(), Topic: s.topics.Events, Partition: partition,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second, ReadBackoffMax: time.Second, // see the sink: MaxWait bounds the answer too
	})
	defer r.Close()
	if offset <= 0 {
		offset = kafkago.FirstOffset
	}
	if err := r.SetOffset(offset); err != nil {
		return fmt.Errorf("identity: seeking %s/%d to %d: %w", s.topics.Events, partition, offset, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return err
		}
		select {
		case in <- m:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// process resolves a batch and produces its outputs; it returns once Kafka
// acknowledged all of them (retrying until ctx ends).
func (s *Stage) process(ctx context.Context, batch []kafkago.Message) ([]kafkago.Message, batchStats, error) {
	start := time.Now()
	now := time.Now().UTC()
	out := make([]kafkago.Message, 0, 3*len(batch))
	touched := map[string]bool{}
	var singles []identity.Profile
	var st batchStats

	decoded := s.decode(ctx, batch)
	if err := ctx.Err(); err != nil {
		// Decoding was cut short: nothing is a dead letter for that, and
		// nothing of the batch was resolved.
		return nil, st, fmt.Errorf("identity: %w: %w", errNotApplied, err)
	}
	s.mu.Lock()
	for i, m := range batch {
		e, err := decoded[i].event, decoded[i].err
		if err != nil {
			dl, derr := s.deadLetter(m, err)
			if derr != nil {
				s.mu.Unlock()
				return nil, st, derr
			}
			out = append(out, dl)
			st.dead++
			continue
		}
		res := s.graph.Apply(&e)
		st.add(res)
		b, err := s.journey(res.CustomerID, res.Phase, &e, m.Value, decoded[i].schemaID)
		if err != nil {
			s.mu.Unlock()
			return nil, st, err
		}
		out = append(out, kafkago.Message{Topic: s.topics.Journeys, Key: []byte(res.CustomerID), Value: b})
		if out, err = s.appendChanges(out, res.Changes); err != nil {
			s.mu.Unlock()
			return nil, st, err
		}
		for _, id := range res.Updated {
			touched[id] = true
		}
		for _, id := range res.Removed {
			touched[id] = true
		}
		if res.Singleton != nil {
			singles = append(singles, *res.Singleton)
		}
	}
	for id := range touched {
		s.dirty[id] = true
	}
	var err error
	if time.Since(s.lastFlush) >= s.cfg.ProfileInterval {
		out, err = s.appendProfiles(out, s.dirty, singles, now)
		clear(s.dirty)
		s.lastFlush = time.Now()
	} else {
		out, err = s.appendProfiles(out, nil, singles, now)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, st, err
	}
	st.events, st.start = len(batch), start
	return out, st, nil
}

// Processed counts the input records resolved and acknowledged since start.
func (s *Stage) Processed() int64 { return s.processed.Load() }

type decodedEvent struct {
	event    event.Event
	schemaID int
	err      error
}

// decode decodes a batch on every core: Avro decoding is the stage's largest
// cost that needs no order.
func (s *Stage) decode(ctx context.Context, batch []kafkago.Message) []decodedEvent {
	out := make([]decodedEvent, len(batch))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(batch)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(batch); i += workers {
				native, id, err := s.serde.Decode(ctx, batch[i].Value)
				if avro.IsRegistryUnavailable(err) {
					// A schema registry that cannot be reached says nothing
					// about the record: wait for it (consumption pauses)
					// rather than dead-letter a good event.
					s.logger.Warn("identity: schema registry unavailable; retrying", zap.Error(err))
					b := backoff.NewExponentialBackOff()
					b.MaxInterval, b.MaxElapsedTime = 5*time.Second, 0
					err = backoff.Retry(func() error {
						var err error
						native, id, err = s.serde.Decode(ctx, batch[i].Value)
						if err != nil && !avro.IsRegistryUnavailable(err) {
							return backoff.Permanent(err)
						}
						return err
					}, backoff.WithContext(b, ctx))
				}
				d := decodedEvent{schemaID: id, err: err}
				if err == nil {
					d.event, d.err = event.FromNative(native)
				}
				out[i] = d
			}
		}()
	}
	wg.Wait()
	return out
}

// journey encodes a cx.JourneyEvent, splicing the incoming event's Avro body
// when it was written with the cx.Event schema the journey schema embeds.
func (s *Stage) journey(customerID, phase string, e *event.Event, raw []byte, schemaID int) ([]byte, error) {
	if schemaID != s.codecs.event.ID() || len(raw) < 5 {
		b, err := s.codecs.journey.Append(nil, identity.JourneyNative(customerID, phase, e))
		if err != nil {
			return nil, fmt.Errorf("identity: encoding journey of %s: %w", e.EventID, err)
		}
		return b, nil
	}
	b := s.codecs.journey.AppendHeader(make([]byte, 0, 64+len(raw)))
	b, err := s.codecs.journeyHead.BinaryFromNative(b, map[string]any{"customer_id": customerID, "phase": phase})
	if err != nil {
		return nil, fmt.Errorf("identity: encoding journey head: %w", err)
	}
	return append(b, raw[5:]...), nil
}

func (s *Stage) appendChanges(out []kafkago.Message, changes []identity.Change) ([]kafkago.Message, error) {
	for _, c := range changes {
		b, err := s.codecs.change.Append(nil, c.Native())
		if err != nil {
			return out, fmt.Errorf("identity: encoding change %s: %w", c.ID, err)
		}
		out = append(out, kafkago.Message{Topic: s.topics.IdentityChanges, Key: []byte(c.CustomerID), Value: b})
	}
	return out, nil
}

// flushProfiles publishes the profiles of every dirty customer (before a
// snapshot: a snapshot only covers inputs whose outputs are all acknowledged).
func (s *Stage) flushProfiles(ctx context.Context) error {
	s.mu.Lock()
	out, err := s.appendProfiles(nil, s.dirty, nil, time.Now().UTC())
	s.mu.Unlock()
	if err != nil || len(out) == 0 {
		return err
	}
	if err := s.prod.Produce(ctx, out...); err != nil {
		return fmt.Errorf("identity: producing profiles: %w", err)
	}
	s.mu.Lock()
	clear(s.dirty)
	s.lastFlush = time.Now()
	s.mu.Unlock()
	return nil
}

// appendProfiles adds the current profile of every touched customer, or its
// tombstone when it is no longer live, in a stable order. Callers hold mu.
// singletonHeader marks the profile of an event that no linkable identifier
// ties to anyone (identity.Result.Singleton): a customer of one event, which
// the graph does not keep. Reconcile must not take it for an earlier
// instance's leftover and tombstone it.
const singletonHeader = "cx360-singleton"

func isSingleton(m kafkago.Message) bool {
	return slices.ContainsFunc(m.Headers, func(h kafkago.Header) bool { return h.Key == singletonHeader })
}

func (s *Stage) appendProfiles(out []kafkago.Message, touched map[string]bool, singles []identity.Profile, now time.Time) ([]kafkago.Message, error) {
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	profiles := s.graph.Profiles(ids, now)
	live := map[string]bool{}
	for i, p := range append(profiles, singles...) {
		live[p.CustomerID] = true
		if p.UpdatedAt.IsZero() {
			p.UpdatedAt = now
		}
		b, err := s.codecs.profile.Append(nil, p.Native())
		if err != nil {
			return out, fmt.Errorf("identity: encoding profile %s: %w", p.CustomerID, err)
		}
		m := kafkago.Message{Topic: s.topics.Customers, Key: []byte(p.CustomerID), Value: b}
		if i >= len(profiles) {
			m.Headers = []kafkago.Header{{Key: singletonHeader, Value: []byte("1")}}
		}
		out = append(out, m)
	}
	for _, id := range ids {
		if !live[id] {
			out = append(out, kafkago.Message{Topic: s.topics.Customers, Key: []byte(id), Value: nil}) // tombstone
		}
	}
	return out, nil
}

func (s *Stage) deadLetter(m kafkago.Message, cause error) (kafkago.Message, error) {
	// Within the producer's record size: an event near it, with the dead
	// letter's own fields, would not fit, and a refused dead letter would
	// fail the batch on every replay.
	b, err := deadletter.Encode(s.codecs.dlq, deadletter.OfRecord("identity", "undecodable_event", m, cause, time.Now()), len(m.Topic), kafka.WriterConfig{}.MaxMessageBytes())
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("identity: %w", err)
	}
	return kafkago.Message{Topic: s.topics.DLQ, Key: []byte(m.Topic), Value: b}, nil
}

// command applies an operator action and produces its outputs.
func (s *Stage) command(ctx context.Context, cmd command) (identity.Result, error) {
	now := time.Now().UTC()
	s.mu.Lock()
	res, err := cmd.apply(s.graph, now)
	if err != nil {
		s.mu.Unlock()
		return res, err
	}
	out, err := s.appendChanges(nil, res.Changes)
	if err == nil {
		touched := map[string]bool{}
		for _, id := range append(slices.Clone(res.Updated), res.Removed...) {
			touched[id] = true
		}
		out, err = s.appendProfiles(out, touched, nil, now)
	}
	s.mu.Unlock()
	if err != nil {
		return res, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a Kafka that is away fails the command, not the shutdown
	defer cancel()
	if err := s.prod.Produce(pctx, out...); err != nil {
		return res, fmt.Errorf("identity: producing command outputs: %w", err)
	}
	var st batchStats
	st.add(res)
	s.metrics.batchDone(0, st, 0)
	return res, nil
}

// Do sends an operator action to the active worker and waits for it to be
// applied, produced and snapshotted.
func (s *Stage) Do(ctx context.Context, apply func(g *identity.Graph, at time.Time) (identity.Result, error)) (identity.Result, error) {
	working := s.working.Load()
	if !s.Active() || working == nil {
		return identity.Result{}, ErrStandby
	}
	if !s.commandsOpen.Load() {
		return identity.Result{}, ErrCatchingUp // the worker is catching up or reconciling, maybe for long
	}
	cmd := command{apply: apply, done: make(chan commandResult, 1)}
	select {
	case s.commands <- cmd: // the worker answers every command it takes
	case <-*working:
		return identity.Result{}, ErrStandby
	case <-ctx.Done():
		return identity.Result{}, ctx.Err()
	}
	select {
	case r := <-cmd.done:
		return r.res, r.err
	case <-ctx.Done():
		return identity.Result{}, ctx.Err()
	}
}

// Read runs fn with the graph under the read lock.
func (s *Stage) Read(fn func(g *identity.Graph)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.graph)
}
