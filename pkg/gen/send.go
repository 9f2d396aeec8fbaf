package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of SendConfig.
const (
	DefaultBatchSize   = 500
	DefaultConcurrency = 4
	DefaultMaxElapsed  = 2 * time.Minute
	maxRetryAfter      = 30 * time.Second
	maxUnexpected      = 10 // answers kept in SendStats.Unexpected
)

// SendConfig configures Send.
type SendConfig struct {
	// URL is ingest's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" when set.
	APIKey string
	// BatchSize is the most records per request (NDJSON body); default 500.
	BatchSize int
	// Concurrency is the most requests in flight; default 4.
	Concurrency int
	// MaxElapsed bounds the retries of one batch (503 with Retry-After,
	// connection errors); default 2 minutes.
	MaxElapsed time.Duration
	// Client is the HTTP client; default one with a 60s timeout.
	Client *http.Client
	// Progress, when set, is called after every batch with the running
	// totals, from one goroutine at a time.
	Progress func(SendStats)
}

// SendStats counts what ingest answered.
type SendStats struct {
	Records    int // items sent (and answered 202)
	Accepted   int // accepted, duplicates included
	Duplicates int
	Rejected   int
	Requests   int // requests answered 202
	Retries    int // requests retried (503, 429, connection errors)
	Elapsed    time.Duration
	ByChannel  map[string]ChannelStats
	Codes      map[string]int // rejections by code
	// Unexpected describes answers that differ from what the records claim
	// (a valid event rejected, a bad record accepted or rejected with another
	// code): the first few, and how many in all.
	Unexpected      []string
	UnexpectedCount int
}

// ChannelStats are one channel's answers.
type ChannelStats struct {
	Records, Accepted, Duplicates, Rejected int
}

// Rate is records answered per second.
func (s SendStats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Records) / s.Elapsed.Seconds()
}

// ingestAnswer is the body of a 202 (DESIGN.md "Ingest HTTP API").
type ingestAnswer struct {
	Accepted   int `json:"accepted"`
	Rejected   int `json:"rejected"`
	Duplicates int `json:"duplicates"`
	Errors     []struct {
		Index int    `json:"index"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// batch is one request: records of one channel.
type batch struct {
	channel string
	records []Record
}

// Send posts records to ingest's HTTP API in NDJSON batches of one channel
// each, keeping the records' order within a channel's stream of batches and
// never separating a duplicate from its original (so ingest recognises the
// copy within the request). Up to Concurrency requests are in flight. A
// request answered 503, 429, 502 or 504, or lost to a connection error, is
// retried with exponential backoff, waiting at least what Retry-After says;
// event ids make the retry safe. Send stops at the first batch it cannot
// deliver (after retries, or on 4xx) and returns the totals so far.
func Send(ctx context.Context, records []Record, cfg SendConfig) (SendStats, error) {
	if cfg.URL == "" {
		return SendStats{}, errors.New("gen: send: no ingest URL")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = DefaultMaxElapsed
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	s := &sender{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), start: time.Now(),
		stats: SendStats{ByChannel: map[string]ChannelStats{}, Codes: map[string]int{}}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan batch)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				if err := s.post(ctx, b); err != nil {
					s.fail(err)
					cancel()
				}
			}
		}()
	}
	dispatch := func(b batch) bool {
		select {
		case jobs <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	pending := map[string][]Record{}
	var order []string // channels in first-seen order, for a deterministic final flush
	for i, r := range records {
		if _, ok := pending[r.Channel]; !ok {
			order = append(order, r.Channel)
		}
		pending[r.Channel] = append(pending[r.Channel], r)
		full := len(pending[r.Channel]) >= cfg.BatchSize
		if full && !(i+1 < len(records) && records[i+1].Duplicate) {
			if !dispatch(batch{channel: r.Channel, records: pending[r.Channel]}) {
				break
			}
			pending[r.Channel] = nil
		}
	}
	for _, ch := range order {
		if len(pending[ch]) > 0 && !dispatch(batch{channel: ch, records: pending[ch]}) {
			break
		}
	}
	close(jobs)
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Elapsed = time.Since(s.start)
	if s.err == nil && ctx.Err() != nil {
		s.err = ctx.Err()
	}
	return s.stats, s.err
}

type sender struct {
	cfg   SendConfig
	base  string
	start time.Time

	mu    sync.Mutex
	stats SendStats
	err   error
}

func (s *sender) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// post sends one batch, with retries, and accounts for the answer.
func (s *sender) post(ctx context.Context, b batch) error {
	size := 0
	for _, r := range b.records {
		size += len(r.Body) + 1
	}
	body := make([]byte, 0, size)
	for _, r := range b.records {
		body = append(append(body, r.Body...), '\n')
	}
	url := s.base + "/v1/" + b.channel + "/events"
	bo := &retryAfterBackOff{BackOff: backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond), backoff.WithMaxInterval(5*time.Second),
		backoff.WithMaxElapsedTime(s.cfg.MaxElapsed))}
	var answer ingestAnswer
	attempt := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if s.cfg.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
		}
		res, err := s.cfg.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return backoff.Permanent(ctx.Err())
			}
			return fmt.Errorf("posting %d %s records: %w", len(b.records), b.channel, err)
		}
		defer res.Body.Close()
		msg, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("reading ingest's answer: %w", err)
		}
		switch {
		case res.StatusCode == http.StatusAccepted:
			if err := json.Unmarshal(msg, &answer); err != nil {
				return backoff.Permanent(fmt.Errorf("ingest answered 202 with a body that is not its answer: %w", err))
			}
			return nil
		case res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusTooManyRequests ||
			res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusGatewayTimeout:
			bo.hint = retryAfter(res.Header.Get("Retry-After"))
			return fmt.Errorf("ingest answered %d: %s", res.StatusCode, bytes.TrimSpace(msg))
		case res.StatusCode == http.StatusUnauthorized:
			return backoff.Permanent(fmt.Errorf("ingest answered 401: it needs a valid API key (--api-key): %s", bytes.TrimSpace(msg)))
		case res.StatusCode == http.StatusRequestEntityTooLarge:
			return backoff.Permanent(fmt.Errorf("ingest answered 413 to %d records (%d bytes): lower the batch size", len(b.records), len(body)))
		default:
			return backoff.Permanent(fmt.Errorf("ingest answered %d to POST %s: %s", res.StatusCode, url, bytes.TrimSpace(msg)))
		}
	}
	retries := 0
	err := backoff.RetryNotify(attempt, backoff.WithContext(bo, ctx), func(error, time.Duration) { retries++ })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Retries += retries
	if err != nil {
		return fmt.Errorf("gen: send: %w", err)
	}
	s.account(b, answer)
	if s.cfg.Progress != nil {
		st := s.stats
		st.Elapsed = time.Since(s.start)
		s.cfg.Progress(st)
	}
	return nil
}

// account adds one answer to the totals and compares it with what the
// records claim. Called with mu held.
func (s *sender) account(b batch, a ingestAnswer) {
	st := &s.stats
	st.Requests++
	st.Records += len(b.records)
	st.Accepted += a.Accepted
	st.Rejected += a.Rejected
	st.Duplicates += a.Duplicates
	cs := st.ByChannel[b.channel]
	cs.Records += len(b.records)
	cs.Accepted += a.Accepted
	cs.Rejected += a.Rejected
	cs.Duplicates += a.Duplicates
	st.ByChannel[b.channel] = cs
	got := make(map[int]string, len(a.Errors))
	for _, e := range a.Errors {
		st.Codes[e.Code]++
		got[e.Index] = e.Code
	}
	for i, r := range b.records {
		if got[i] == r.Reject {
			continue
		}
		st.UnexpectedCount++
		if len(st.Unexpected) < maxUnexpected {
			what := "event " + r.EventID
			if r.Reject != "" {
				what = "bad record (" + r.Reject + ")"
			}
			answer := "accepted"
			if got[i] != "" {
				answer = "rejected with " + got[i]
			}
			st.Unexpected = append(st.Unexpected, fmt.Sprintf("%s %s was %s", b.channel, what, answer))
		}
	}
}

// retryAfterBackOff waits at least as long as the server's Retry-After.
type retryAfterBackOff struct {
	backoff.BackOff
	hint time.Duration // set by the attempt that got Retry-After
}

var _ backoff.BackOff = (*retryAfterBackOff)(nil)

func (b *retryAfterBackOff) NextBackOff() time.Duration {
	d := b.BackOff.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	d, b.hint = max(d, b.hint), 0
	return d
}

// retryAfter reads a Retry-After header: seconds or an HTTP date, capped.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}
