package sink

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/deadletter"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/schemas"
)

// Store is the part of a ClickHouse client the sink needs.
type Store interface {
	Exec(ctx context.Context, query string, args ...any) error
	QueryRow(ctx context.Context, query string, args ...any) driver.Row
	InsertBatch(ctx context.Context, table string, columns []string, rows [][]any) error
}

// Producer writes dead letters.
type Producer interface {
	Produce(ctx context.Context, msgs ...kafkago.Message) error
}

// Config configures the sink.
type Config struct {
	Brokers         []string
	Dialer          *kafkago.Dialer // TLS and SASL to the brokers; nil is plaintext
	GroupID         string
	JourneysTopic   string
	CustomersTopic  string
	ChangesTopic    string
	DLQTopic        string
	BatchRows       int           // flush when the batch reaches this many records
	FlushInterval   time.Duration // or when its oldest record waited this long
	IsRetryable     func(error) bool
	MaxRetryBackoff time.Duration
	Metrics         *Metrics // nil records nothing
}

// Defaults.
const (
	DefaultBatchRows     = 50_000
	DefaultFlushInterval = time.Second
)

// Sink consumes the pipeline's outputs and writes them to ClickHouse.
type Sink struct {
	cfg    Config
	store  Store
	serde  *avro.Serde
	dlq    *avro.Codec
	prod   Producer
	logger *zap.Logger

	layouts *journeyLayouts // extra columns per writer schema of cx.journeys
	erased  *erasedIDs      // read and replaced by the writer goroutine only

	mu      sync.Mutex
	written map[string]int64 // rows acknowledged per table (for tests and metrics)
	added   map[string]bool  // extra journey columns known to exist
	refused map[string]bool  // extra journey columns ClickHouse would not add
}

// New returns a Sink. dlq encodes dead letters for rows ClickHouse can never accept.
func New(cfg Config, store Store, serde *avro.Serde, dlq *avro.Codec, prod Producer, logger *zap.Logger) *Sink {
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = DefaultBatchRows
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = 5 * time.Second
	}
	if cfg.IsRetryable == nil {
		cfg.IsRetryable = func(error) bool { return true }
	}
	return &Sink{cfg: cfg, store: store, serde: serde, dlq: dlq, prod: prod, logger: logger, written: map[string]int64{}, added: map[string]bool{}, refused: map[string]bool{}}
}

// Migrate applies every ClickHouse migration; each is idempotent (IF NOT EXISTS).
func Migrate(ctx context.Context, store Store) error {
	ms, err := schemas.ClickHouse()
	if err != nil {
		return err
	}
	for _, m := range ms {
		for _, st := range m.Statements {
			if err := store.Exec(ctx, st); err != nil {
				return fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
			}
		}
	}
	return nil
}

// Written returns the rows acknowledged by ClickHouse per table.
func (s *Sink) Written() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.written))
	for k, v := range s.written {
		out[k] = v
	}
	return out
}

// Run consumes the three topics until ctx ends. One group member reads them
// all, so a sink process joins its group once (each join is a rebalance the
// other members wait for); records of every topic share a batch, and offsets
// are committed only after ClickHouse acknowledged the rows of the committed
// records.
func (s *Sink) Run(ctx context.Context) error {
	layouts, err := newJourneyLayouts(s.serde)
	if err != nil {
		return err
	}
	s.layouts = layouts
	if err := s.consume(ctx, []string{s.cfg.JourneysTopic, s.cfg.CustomersTopic, s.cfg.ChangesTopic}); err != nil && ctx.Err() == nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// kafkaLogger adapts a zap printf to kafka-go's Logger: group joins,
// assignments and rebalances are what one needs to see when a consumer stalls.
type kafkaLogger func(string, ...any)

func (l kafkaLogger) Printf(format string, args ...any) { l(format, args...) }

// pending is one table's rows waiting to be inserted, with the record each
// came from (in the batch, which outlives them) and, for journeys of a newer
// writer schema, the values of fields without a fixed column. extras is
// shorter than rows, or nil, when the last rows have none: most batches
// carry no extras at all.
type pending struct {
	rows   [][]any
	from   []*kafkago.Message
	extras []map[string]any
	types  map[string]extraColumn
}

func newPending(size int) *pending {
	return &pending{rows: make([][]any, 0, size), from: make([]*kafkago.Message, 0, size)}
}

func (p *pending) add(row []any, m *kafkago.Message, extra map[string]any, cols []extraColumn) {
	p.rows = append(p.rows, row)
	p.from = append(p.from, m)
	if extra != nil {
		p.extras = append(p.padExtras(len(p.rows)-1), extra)
	}
	for _, c := range cols {
		if p.types == nil {
			p.types = map[string]extraColumn{}
		}
		p.types[c.name] = c
	}
}

// padExtras returns extras lengthened with nils to n entries.
func (p *pending) padExtras(n int) []map[string]any {
	for len(p.extras) < n {
		p.extras = append(p.extras, nil)
	}
	return p.extras
}

// extend appends the rows of q after p's.
func (p *pending) extend(q *pending) {
	if len(q.extras) > 0 {
		p.extras = append(p.padExtras(len(p.rows)), q.extras...)
	}
	p.rows = append(p.rows, q.rows...)
	p.from = append(p.from, q.from...)
	for name, c := range q.types {
		if p.types == nil {
			p.types = map[string]extraColumn{}
		}
		p.types[name] = c
	}
}

func (s *Sink) consume(ctx context.Context, topics []string) error {
	log := s.logger.Named("kafka")
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: s.cfg.Brokers, Dialer: s.cfg.Dialer, GroupID: s.cfg.GroupID, GroupTopics: topics,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second, // the broker answers at once when data waits; MaxWait also bounds its answer, and a busy broker past it livelocks kafka-go in read timeouts
		CommitInterval: 0, // synchronous: a commit means the rows are in ClickHouse
		StartOffset:    kafkago.FirstOffset,
		// A sink that died must not hold its partitions for kafka-go's default
		// 30 s: its replacement resumes from the committed offsets within seconds.
		HeartbeatInterval: time.Second, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
		JoinGroupBackoff: time.Second,
		Logger:           kafkaLogger(log.Sugar().Debugf),
		ErrorLogger:      kafkaLogger(log.Sugar().Warnf),
	})
	defer r.Close()
	in := make(chan kafkago.Message, 4096)
	fetchErr := make(chan error, 1)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var fetching sync.WaitGroup
	fetching.Add(1)
	go func() {
		defer fetching.Done()
		for {
			m, err := r.FetchMessage(fctx)
			if err != nil {
				fetchErr <- err
				return
			}
			select {
			case in <- m:
			case <-fctx.Done():
				return
			}
		}
	}()
	defer fetching.Wait()
	defer stop()

	// One batch is written (decoded on every core, inserted, committed) while
	// the next is collected: the unbuffered send waits for the writer.
	work := make(chan []kafkago.Message)
	written := make(chan error, 1)
	wctx, wcancel := context.WithCancel(ctx)
	var writing sync.WaitGroup
	writing.Add(1)
	go func() {
		defer writing.Done()
		for msgs := range work {
			err := s.write(wctx, r, msgs)
			select {
			case written <- err:
			case <-wctx.Done(): // the loop is gone; the batch was not committed and is read again
				return
			}
			if err != nil {
				// Take no later batch: its commit would cover the offsets of
				// this one, whose records were not all written.
				return
			}
		}
	}()
	// On return: no more batches, stop the one in flight, wait for the writer.
	defer writing.Wait()
	defer wcancel()
	defer close(work)

	var msgs []kafkago.Message
	ticker := time.NewTicker(s.cfg.FlushInterval / 4)
	defer ticker.Stop()
	oldest := time.Time{}
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		for {
			select {
			case work <- msgs:
				msgs, oldest = nil, time.Time{}
				return nil
			case err := <-written:
				if err != nil {
					return err
				}
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-fetchErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case err := <-written:
			if err != nil {
				return err
			}
		case <-ticker.C:
			if !oldest.IsZero() && time.Since(oldest) >= s.cfg.FlushInterval {
				if err := flush(); err != nil {
					return err
				}
			}
		case m := <-in:
			if oldest.IsZero() {
				oldest = time.Now()
			}
			msgs = append(msgs, m)
			if len(msgs) >= s.cfg.BatchRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// write decodes a batch of records into rows, inserts every table's rows,
// applies erasures, and only then commits the records' offsets.
func (s *Sink) write(ctx context.Context, r *kafkago.Reader, msgs []kafkago.Message) error {
	began := time.Now()
	if err := s.refreshErasures(ctx); err != nil {
		return err
	}
	batches, err := s.decode(ctx, msgs)
	if err != nil {
		return err
	}
	for _, table := range []string{TableJourneys, TableCustomers, TableChanges, TableMap, TableErasures} {
		if b := batches[table]; b != nil && len(b.rows) > 0 {
			types, err := s.addColumns(ctx, table, b.types)
			if err != nil {
				return err
			}
			cols, rows := withExtras(Columns(table), b.rows, b.extras, types)
			if err := s.insert(ctx, table, cols, rows, b.from); err != nil {
				return err
			}
		}
	}
	if b := batches[TableMap]; b != nil && len(b.rows) > 0 {
		if err := s.retry(ctx, "flatten_identity_map", func() error { return s.flattenIdentityMap(ctx) }); err != nil {
			return err
		}
	}
	if err := s.erase(ctx, batches[TableErasures]); err != nil {
		return err
	}
	if err := s.commit(ctx, r, msgs); err != nil {
		return err
	}
	byTopic := map[string]int{}
	for _, m := range msgs {
		byTopic[m.Topic]++
	}
	s.cfg.Metrics.batchWritten(byTopic, time.Since(began), r.Stats().Lag)
	return nil
}

// commitWait bounds the retries of one commit: past it the batch is left
// uncommitted, and its records come again after the next rebalance.
const commitWait = 30 * time.Second

// commit commits the batch's offsets, retrying while the broker is away. A
// commit that still fails (the broker restarted and the group moved to a new
// generation, say) is not fatal: the rows are in ClickHouse, the records are
// delivered again and replace them, and the next batch's commit covers these
// offsets too. Only the end of ctx stops the sink here.
func (s *Sink) commit(ctx context.Context, r *kafkago.Reader, msgs []kafkago.Message) error {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval, b.MaxElapsedTime = s.cfg.MaxRetryBackoff, commitWait
	err := backoff.Retry(func() error {
		err := r.CommitMessages(ctx, msgs...)
		if err != nil && ctx.Err() == nil {
			s.cfg.Metrics.retried("commit")
		}
		return err
	}, backoff.WithContext(b, ctx))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		s.logger.Warn("sink: offsets not committed; the records will be read again and their rows replaced", zap.Int("records", len(msgs)), zap.Error(err))
		return nil
	}
}

// decode turns records into per-table rows on every core, keeping record order.
func (s *Sink) decode(ctx context.Context, msgs []kafkago.Message) (map[string]*pending, error) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(msgs)/256))
	parts := make([]map[string]*pending, workers)
	errs := make([]error, workers)
	chunk := (len(msgs) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]*pending{}
			mine := msgs[min(w*chunk, len(msgs)):min((w+1)*chunk, len(msgs))]
			add := func(table string, row []any, m *kafkago.Message, extra map[string]any, cols []extraColumn) {
				b := local[table]
				if b == nil {
					b = newPending(len(mine))
					local[table] = b
				}
				b.add(row, m, extra, cols)
			}
			for i := range mine {
				if err := s.rowsOf(ctx, &mine[i], add); err != nil {
					errs[w] = err
					return
				}
			}
			parts[w] = local
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	sizes := map[string]int{}
	for _, part := range parts {
		for table, p := range part {
			sizes[table] += len(p.rows)
		}
	}
	out := make(map[string]*pending, len(sizes))
	for table, n := range sizes {
		out[table] = newPending(n)
	}
	for _, part := range parts {
		for table, p := range part {
			out[table].extend(p)
		}
	}
	return out, nil
}

// rowsOf decodes a record into rows; a record that cannot be decoded is
// dead-lettered (never silently dropped, never blocking the rest).
func (s *Sink) rowsOf(ctx context.Context, m *kafkago.Message, add func(string, []any, *kafkago.Message, map[string]any, []extraColumn)) error {
	var native any
	var id int
	var err error
	if m.Value != nil {
		err = s.untilRegistryAnswers(ctx, func() (err error) {
			native, id, err = s.serde.Decode(ctx, m.Value)
			return err
		})
	}
	if err == nil {
		switch m.Topic {
		case s.cfg.JourneysTopic:
			var row []any
			var extra []extraColumn
			if err = s.untilRegistryAnswers(ctx, func() (err error) {
				extra, err = s.layouts.extras(ctx, id)
				return err
			}); err != nil {
				break
			}
			if row, err = journeyRow(native, m.Time); err == nil && !s.erasedJourney(row) {
				add(TableJourneys, row, m, extraValues(extra, native), extra)
			}
		case s.cfg.CustomersTopic:
			var row []any
			if row, err = profileRow(string(m.Key), native, m.Offset); err == nil && !s.erasedProfile(row) {
				add(TableCustomers, row, m, nil, nil)
			}
		case s.cfg.ChangesTopic:
			var change, erasure []any
			var mapping [][]any
			if change, mapping, erasure, err = changeRows(native); err == nil && !s.erasedChange(change) {
				add(TableChanges, change, m, nil, nil)
				for _, row := range mapping {
					add(TableMap, row, m, nil, nil)
				}
				if erasure != nil {
					add(TableErasures, erasure, m, nil, nil)
				}
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.deadLetter(ctx, *m, "undecodable_record", err)
	}
	return nil
}

// untilRegistryAnswers runs op until it succeeds, fails for another reason
// than an unavailable schema registry, or ctx ends. A record whose schema
// cannot be fetched right now is not bad: consumption waits for the registry
// (back-pressure) instead of dead-lettering good records.
func (s *Sink) untilRegistryAnswers(ctx context.Context, op func() error) error {
	return s.retryWhile(ctx, "schema_registry", avro.IsRegistryUnavailable, op)
}

// insert writes rows, retrying transient failures with backoff while
// consumption waits (back-pressure). A batch ClickHouse refuses for its
// content is split in halves until the rows it refuses are alone; those go to
// the DLQ and the rest of the batch lands.
func (s *Sink) insert(ctx context.Context, table string, cols []string, rows [][]any, from []*kafkago.Message) error {
	op := func() error {
		err := s.store.InsertBatch(ctx, table, cols, rows)
		if err != nil && !s.cfg.IsRetryable(err) {
			return backoff.Permanent(err)
		}
		if err != nil {
			s.cfg.Metrics.retried("insert")
			s.logger.Warn("sink: ClickHouse unavailable; retrying", zap.String("table", table), zap.Int("rows", len(rows)), zap.Error(err))
		}
		return err
	}
	b := backoff.NewExponentialBackOff()
	b.MaxInterval, b.MaxElapsedTime = s.cfg.MaxRetryBackoff, 0 // nothing is dropped: retry until shutdown
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	var perm *backoff.PermanentError
	switch {
	case err == nil:
		s.mu.Lock()
		s.written[table] += int64(len(rows))
		s.mu.Unlock()
		s.cfg.Metrics.rowsWritten(table, len(rows))
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &perm) || !s.cfg.IsRetryable(err):
		if len(rows) == 1 {
			return s.deadLetter(ctx, *from[0], "rejected_by_clickhouse", err)
		}
		half := len(rows) / 2
		if err := s.insert(ctx, table, cols, rows[:half], from[:half]); err != nil {
			return err
		}
		return s.insert(ctx, table, cols, rows[half:], from[half:])
	default:
		return err
	}
}

// addColumns adds the extra columns a batch carries to table, once per
// column and sink (a column that exists already counts as added), and
// returns the columns the batch can write. The ALTER is retried like an
// insert: a server that is down pauses the sink. A column ClickHouse refuses
// for good (a name taken with another type, say) is logged and left out; the
// rows land without it, and the field stays in the topic.
func (s *Sink) addColumns(ctx context.Context, table string, types map[string]extraColumn) (map[string]extraColumn, error) {
	usable := make(map[string]extraColumn, len(types))
	for name, c := range types {
		s.mu.Lock()
		done, refused := s.added[name], s.refused[name]
		s.mu.Unlock()
		if refused {
			continue
		}
		if done {
			usable[name] = c
			continue
		}
		q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN `%s` %s", table, name, c.chType)
		op := func() error {
			err := s.store.Exec(ctx, q)
			if clickhouse.IsDuplicateColumn(err) {
				// Added by an earlier run or another sink, or a name taken
				// with another type, whose column the rows cannot fill.
				err = s.sameColumnType(ctx, table, name, c.chType)
			}
			if err != nil && !s.cfg.IsRetryable(err) {
				return backoff.Permanent(err)
			}
			return err
		}
		b := backoff.NewExponentialBackOff()
		b.MaxInterval, b.MaxElapsedTime = s.cfg.MaxRetryBackoff, 0
		err := backoff.Retry(op, backoff.WithContext(b, ctx))
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			s.logger.Error("sink: ClickHouse refused a column for a new field of the writer schema; its values stay in Kafka only",
				zap.String("table", table), zap.String("column", name), zap.String("type", c.chType), zap.Error(err))
			s.mu.Lock()
			s.refused[name] = true
			s.mu.Unlock()
			continue
		}
		s.logger.Info("sink: added a column for a new field of the writer schema", zap.String("table", table), zap.String("column", name), zap.String("type", c.chType))
		s.mu.Lock()
		s.added[name] = true
		s.mu.Unlock()
		usable[name] = c
	}
	return usable, nil
}

// errColumnType is a column that exists with another type than a field needs.
var errColumnType = errors.New("the column exists with another type")

// sameColumnType returns nil if table's column name has type chType, and
// errColumnType (permanent) if it has another.
func (s *Sink) sameColumnType(ctx context.Context, table, name, chType string) error {
	db, tbl, _ := strings.Cut(table, ".")
	var have string
	if err := s.store.QueryRow(ctx, "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = ?", db, tbl, name).Scan(&have); err != nil {
		return fmt.Errorf("reading the type of column %s: %w", name, err)
	}
	if have != chType {
		return fmt.Errorf("%w: %s is %s, the field needs %s", errColumnType, name, have, chType)
	}
	return nil
}

// identityHops is one step of flattening identity_map: every id whose latest
// survivor has itself a different latest survivor (A→B while B→C) gets a row
// pointing one hop further (A→C), with a version above both. JOIN … USING
// with renamed columns: the one join form 18.16 and modern ClickHouse read
// alike.
const identityHops = `SELECT customer_id, next AS survivor_id, greatest(va + 1, vb) AS version
FROM (SELECT customer_id, argMax(survivor_id, version) AS mid, max(version) AS va FROM cx360.identity_map GROUP BY customer_id)
ALL INNER JOIN (SELECT customer_id AS mid, argMax(survivor_id, version) AS next, max(version) AS vb FROM cx360.identity_map GROUP BY customer_id)
USING mid
WHERE next != mid`

// maxIdentityHops bounds the flattening: a chain of 2^n ids needs n rounds
// when every round moves each id one hop further along an already shortened
// chain; identity's merges rarely chain more than a few deep.
const maxIdentityHops = 16

// flattenIdentityMap keeps identity_map's contract — one argMax lookup gives
// any id's current survivor — when merges chain: identity reports each merge
// with the ids it absorbed just then (B into C), not the ids absorbed into B
// before, whose rows still say B. Records of cx.identity.changes may also
// arrive out of order across partitions; the fixpoint does not care.
func (s *Sink) flattenIdentityMap(ctx context.Context) error {
	for range maxIdentityHops {
		var n uint64
		if err := s.store.QueryRow(ctx, "SELECT count() FROM ("+identityHops+")").Scan(&n); err != nil {
			return fmt.Errorf("counting identity_map hops: %w", err)
		}
		if n == 0 {
			return nil
		}
		if err := s.store.Exec(ctx, "INSERT INTO cx360.identity_map (customer_id, survivor_id, version) "+identityHops); err != nil {
			return fmt.Errorf("flattening identity_map: %w", err)
		}
	}
	s.logger.Warn("sink: identity_map still has chains after the maximum rounds", zap.Int("rounds", maxIdentityHops))
	return nil
}

// retry runs op until it succeeds, ctx ends, or it fails for good, backing
// off while ClickHouse is away (consumption waits meanwhile).
func (s *Sink) retry(ctx context.Context, what string, op func() error) error {
	return s.retryWhile(ctx, what, s.cfg.IsRetryable, op)
}

// retryWhile runs op until it succeeds, fails with an error transient does
// not accept, or ctx ends, backing off between attempts while consumption
// waits; each retry is counted and logged as what. The first attempt sets up
// no backoff: it is the usual case, on hot paths.
func (s *Sink) retryWhile(ctx context.Context, what string, transient func(error) bool, op func() error) error {
	err := op()
	if err == nil || !transient(err) {
		return err
	}
	b := backoff.NewExponentialBackOff()
	b.MaxInterval, b.MaxElapsedTime = s.cfg.MaxRetryBackoff, 0
	return backoff.Retry(func() error {
		s.cfg.Metrics.retried(what)
		s.logger.Warn("sink: retrying", zap.String("what", what), zap.Error(err))
		if err = op(); err != nil && !transient(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx))
}

// erase deletes the rows of erased customers (every id that pointed at them)
// from the journey, customer, identity-map and identity-change tables; the
// erasures table and the erase change keep the audit without personal data.
func (s *Sink) erase(ctx context.Context, b *pending) error {
	if b == nil {
		return nil
	}
	var ids []string
	for _, row := range b.rows {
		ids = append(ids, row[0].(string))
		ids = append(ids, row[1].([]string)...)
	}
	if len(ids) == 0 {
		return nil
	}
	// The ids are bound as one array parameter: has(array, id) works on
	// 18.16 and modern ClickHouse alike.
	for _, q := range []string{
		"ALTER TABLE cx360.journey_events DELETE WHERE has(?, customer_id)",
		"ALTER TABLE cx360.customers DELETE WHERE has(?, customer_id)",
		"ALTER TABLE cx360.identity_map DELETE WHERE has(?, customer_id) OR has(?, survivor_id)",
		// Links and merges name the customer's identifiers; the erasure's own
		// change carries none and stays, next to the audit row.
		"ALTER TABLE cx360.identity_changes DELETE WHERE kind != 'erase' AND (has(?, customer_id) OR hasAny(related_ids, ?))",
	} {
		args := []any{ids}
		if strings.Count(q, "?") == 2 {
			args = append(args, ids)
		}
		if err := s.retry(ctx, "erase", func() error { return s.store.Exec(ctx, q, args...) }); err != nil {
			return fmt.Errorf("erasing: %w", err)
		}
	}
	return nil
}

func (s *Sink) deadLetter(ctx context.Context, m kafkago.Message, code string, cause error) error {
	s.cfg.Metrics.deadLettered(code)
	s.logger.Warn("sink: dead-lettering a record", zap.String("topic", m.Topic), zap.Int("partition", m.Partition), zap.Int64("offset", m.Offset), zap.String("code", code), zap.Error(cause))
	// Within the producer's record size, or it would stall the sink; the
	// record itself stays on its topic.
	b, err := deadletter.Encode(s.dlq, deadletter.OfRecord("sink", code, m, cause, time.Now()), len(m.Topic), kafka.WriterConfig{}.MaxMessageBytes())
	if err != nil {
		return err
	}
	// Kafka being away pauses the sink like ClickHouse being away does:
	// the record is neither dropped nor its batch failed.
	always := func(error) bool { return true }
	if err := s.retryWhile(ctx, "dead_letter", always, func() error {
		return s.prod.Produce(ctx, kafkago.Message{Topic: s.cfg.DLQTopic, Key: []byte(m.Topic), Value: b})
	}); err != nil {
		return fmt.Errorf("producing dead letter: %w", err)
	}
	return nil
}
