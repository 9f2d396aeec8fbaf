#!/usr/bin/env bash
# Measures cx360's throughput, each figure next to a raw baseline measured in
# the same run on the same machine (README "Performance" carries the results).
#   BENCHTIME=2000x COUNT=3 scripts/bench.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"
ensure_go
ensure_clickhouse
go mod download

BENCHTIME=${BENCHTIME:-1000x}
COUNT=${COUNT:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

log "ingest: HTTP (NDJSON x500, 4 clients) vs raw kafka-go produce of the same records; $COUNT runs of $BENCHTIME"
go test -run '^$' -bench 'BenchmarkIngestHTTP$|BenchmarkRawKafkaProduce$' -benchtime "$BENCHTIME" -count "$COUNT" ./pkg/ingest/ | tee -a "$out"
log "ingest CPU per event: parse → validate → normalise → encode (no I/O)"
go test -run '^$' -bench 'BenchmarkProcess$' -benchmem -benchtime 300x -count "$COUNT" ./pkg/ingest/ | tee -a "$out"
log "identity: consume → resolve → produce vs passthrough consumer → producer of the same 100k records, and the passthrough that also decodes them (the floor of any stage on kafka-go and goavro); $COUNT runs"
go test -run '^$' -bench 'BenchmarkIdentityStage$|BenchmarkPassthrough$|BenchmarkPassthroughDecoded$' -benchtime 1x -count "$COUNT" ./pkg/identity/stage/ | tee -a "$out"
log "identity graph alone: events/s (Apply) and memory per identifier at 1M identifiers (takes minutes)"
go test -run '^$' -bench 'BenchmarkApply$' -benchtime 300000x ./pkg/identity/ | tee -a "$out"
go test -run '^$' -bench 'BenchmarkMemoryPerIdentifier$' -benchtime 1x ./pkg/identity/ | tee -a "$out"
log "ClickHouse 18.16: cx360's batch insert vs clickhouse-client JSONEachRow, 10k and 100k rows per batch"
go test -run '^$' -bench 'BenchmarkInsertBatch$|BenchmarkRawClientInsert$' -benchtime 3x ./pkg/clickhouse/ | tee -a "$out"
log "sink: cx.journeys → ClickHouse (200k rows) vs raw clickhouse-go batch insert of the same rows"
go test -run '^$' -bench 'BenchmarkSink$|BenchmarkRawInsert$' -benchtime 1x -count "$COUNT" ./pkg/sink/ | tee -a "$out"
log "sink freshness: Kafka acknowledgement → queryable in ClickHouse at 10k events/s, default batching"
go test -run '^$' -bench 'BenchmarkFreshness$' -benchtime 1x -count "$COUNT" ./pkg/sink/ | tee -a "$out"
log "real data: Online Retail (541,909 rows) file → ClickHouse through the whole pipeline vs clickhouse-client inserting the same rows"
go test -run '^$' -bench 'BenchmarkImportOnlineRetail$|BenchmarkRawClientInsertOnlineRetail$' -benchtime 1x -count "$COUNT" ./pkg/realdata/ | tee -a "$out"
log "whole pipeline as four processes (infra, ingest, identity, sink): events/s end to end, freshness 202 → queryable, peak RSS per process"
go test -run '^$' -bench 'BenchmarkPipeline$' -benchtime 1x -count 1 -timeout 30m ./pkg/e2e/ | tee -a "$out"
log "normalisers"
go test -run '^$' -bench . -benchmem ./pkg/normalize/ | tee -a "$out"

# Medians per benchmark and the ratio of ingest to its raw baseline.
awk '
function median(arr, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j+1] = arr[j]; arr[j+1] = t }
	return (n % 2) ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "events/s" || $(i+1) == "rows/s") { n[name]++; ev[name, n[name]] = $i }
		if ($(i+1) == "ns/op")    { m[name]++; ns[name, m[name]] = $i }
		if ($(i+1) == "allocs/op") { allocs[name] = $i }
		if ($(i+1) == "B/identifier") { bpi = $i }
		if (name == "BenchmarkPipeline") {
			if ($(i+1) == "events/s") pe = $i
			if ($(i+1) == "p50-ms") pp50 = $i
			if ($(i+1) == "p99-ms") pp99 = $i
			if ($(i+1) ~ /^MB-/) { rss = rss sprintf("%s %.0f MB, ", substr($(i+1), 4), $i) }
			continue
		}
		if ($(i+1) == "p50-ms") { f50n++; f50[f50n] = $i }
		if ($(i+1) == "p99-ms") { f99n++; f99[f99n] = $i }
	}
}
END {
	split("", a); for (i = 1; i <= n["BenchmarkIngestHTTP"]; i++) a[i] = ev["BenchmarkIngestHTTP", i]
	http = median(a, n["BenchmarkIngestHTTP"])
	split("", a); for (i = 1; i <= n["BenchmarkRawKafkaProduce"]; i++) a[i] = ev["BenchmarkRawKafkaProduce", i]
	raw = median(a, n["BenchmarkRawKafkaProduce"])
	split("", a); for (i = 1; i <= m["BenchmarkProcess"]; i++) a[i] = ns["BenchmarkProcess", i]
	cpu = median(a, m["BenchmarkProcess"]) / 500 / 1000
	printf "\n| what | cx360 | raw baseline (same run) | ratio |\n|---|---|---|---|\n"
	printf "| ingest over HTTP, NDJSON batches of 500 mixed events, 4 clients | %.0f events/s | %.0f events/s (kafka-go, same pre-encoded records) | %.2f |\n", http, raw, http / raw
	printf "| ingest CPU per event (parse, validate, normalise, Avro encode) | %.1f µs, %d allocs | | |\n", cpu, allocs["BenchmarkProcess"] / 500
	split("", a); for (i = 1; i <= n["BenchmarkIdentityStage"]; i++) a[i] = ev["BenchmarkIdentityStage", i]
	id = median(a, n["BenchmarkIdentityStage"])
	split("", a); for (i = 1; i <= n["BenchmarkPassthrough"]; i++) a[i] = ev["BenchmarkPassthrough", i]
	pt = median(a, n["BenchmarkPassthrough"])
	if (pt > 0) printf "| identity: consume → resolve → produce (journeys, profiles, changes) | %.0f events/s | %.0f events/s (passthrough consumer → producer) | %.2f |\n", id, pt, id / pt
	split("", a); for (i = 1; i <= n["BenchmarkPassthroughDecoded"]; i++) a[i] = ev["BenchmarkPassthroughDecoded", i]
	pd = median(a, n["BenchmarkPassthroughDecoded"])
	if (pd > 0) printf "| identity floor: passthrough that also decodes every record (goavro) | %.0f events/s | %.0f events/s (passthrough) | %.2f |\n", pd, pt, pd / pt
	split("", a); for (i = 1; i <= n["BenchmarkSink"]; i++) a[i] = ev["BenchmarkSink", i]
	sk = median(a, n["BenchmarkSink"])
	split("", a); for (i = 1; i <= n["BenchmarkRawInsert"]; i++) a[i] = ev["BenchmarkRawInsert", i]
	ri = median(a, n["BenchmarkRawInsert"])
	if (ri > 0) printf "| sink: cx.journeys → ClickHouse 18.16, with commits | %.0f rows/s | %.0f rows/s (raw clickhouse-go batch insert of the same rows) | %.2f |\n", sk, ri, sk / ri
	if (f50n > 0) printf "| sink freshness at 10k events/s (Kafka ack → queryable), default 1 s batching | p50 %.0f ms, p99 %.0f ms | | |\n", median(f50, f50n), median(f99, f99n)
	split("", a); for (i = 1; i <= n["BenchmarkImportOnlineRetail"]; i++) a[i] = ev["BenchmarkImportOnlineRetail", i]
	rd = median(a, n["BenchmarkImportOnlineRetail"])
	split("", a); for (i = 1; i <= n["BenchmarkRawClientInsertOnlineRetail"]; i++) a[i] = ev["BenchmarkRawClientInsertOnlineRetail", i]
	rc = median(a, n["BenchmarkRawClientInsertOnlineRetail"])
	if (rc > 0) printf "| real data: Online Retail (541,909 rows) gzipped CSV → mapping → ingest → identity → sink → ClickHouse | %.0f rows/s | %.0f rows/s (clickhouse-client CSVWithNames of the same rows into a plain table) | %.2f |\n", rd, rc, rd / rc
	if (pe > 0) printf "| whole pipeline, four processes on 2 cores: ingest → identity → sink → ClickHouse | %.0f events/s; freshness at ~2k events/s p50 %.0f ms, p99 %.0f ms | (each stage against its raw baseline: rows above) | |\n| peak RSS per process (whole-pipeline run) | %s | | |\n", pe, pp50, pp99, rss
	if (bpi > 0) printf "| identity graph memory, 1M identifiers | %.0f bytes/identifier | | |\n", bpi
}' "$out"
