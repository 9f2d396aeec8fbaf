#!/usr/bin/env bash
# The README's first command. Installs what cx360 needs, starts the embedded
# stack (Kafka-protocol broker, schema registry, ingest, identity, ClickHouse,
# sink) on this machine, sends one customer's cross-channel week plus some bad
# records through the real HTTP API and shows what landed on Kafka, decoded from
# Avro: normalised events, every rejected item with its reason, identity's
# journeys, merges and the unified profile. Then it generates a realistic
# retailer (cx360 gen), waits until every event is in ClickHouse, and writes the
# customer-experience report: an HTML page with charts, and a text summary.
#   KEEP=1 scripts/demo.sh                 leaves the stack running afterwards
#   CX360_DEMO_CUSTOMERS=5000 scripts/demo.sh   a bigger retailer
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CX360_ROOT"

"$CX360_ROOT/scripts/setup.sh"

DATA=${CX360_DEMO_DATA:-$CX360_ROOT/.cx360/demo}
CUSTOMERS=${CX360_DEMO_CUSTOMERS:-2000}
rm -rf "$DATA" && mkdir -p "$DATA"
log "starting the dev stack (data in $DATA)"
bin/cx360 dev --data-dir "$DATA" --ready-file "$DATA/ready.json" --log-level warn >"$DATA/dev.log" 2>&1 &
dev_pid=$!
stop() {
	if kill -0 "$dev_pid" 2>/dev/null; then
		kill -INT "$dev_pid" && wait "$dev_pid" || true
	fi
}
if [ "${KEEP:-0}" != 1 ]; then trap stop EXIT; fi
for _ in $(seq 1 100); do
	[ -f "$DATA/ready.json" ] && break
	kill -0 "$dev_pid" 2>/dev/null || { cat "$DATA/dev.log"; die "the dev stack did not start"; }
	sleep 0.1
done
[ -f "$DATA/ready.json" ] || die "the dev stack did not become ready; see $DATA/dev.log"
head -6 "$DATA/dev.log"

post() { # channel file content-type
	printf '\n\033[1mPOST /v1/%s/events\033[0m  (%s)\n' "$1" "$(basename "$2")"
	curl -sS -X POST "http://127.0.0.1:8080/v1/$1/events" -H "Content-Type: $3" --data-binary "@$2"
	echo
}
log "Ann's week: web research, app, a store purchase with her loyalty card, a call and a survey"
post web   scripts/demo/web.ndjson   application/x-ndjson
post app   scripts/demo/app.ndjson   application/x-ndjson
post store scripts/demo/store.json   application/json
post phone scripts/demo/phone.ndjson application/x-ndjson
log "a client retry of the same store batch is acknowledged but not produced twice"
post store scripts/demo/store.json   application/json

echo
log "cx.events, decoded from Avro via the schema registry (emails lower-cased, phones in E.164, test@test.com flagged blocked):"
bin/cx360 tail --topic events --max 0 --format brief
echo
log "cx.events.dlq — every rejected item, with its reason and raw bytes:"
bin/cx360 tail --topic events.dlq --max 0 --format brief
echo
log "identity resolves every event to one customer (cx.journeys: customer, journey phase, event):"
for _ in $(seq 1 100); do
	n=$(bin/cx360 tail --topic journeys --max 0 --format brief 2>/dev/null | wc -l)
	[ "$n" -ge 10 ] && break
	sleep 0.2
done
bin/cx360 tail --topic journeys --max 0 --format brief
echo
log "cx.identity.changes — links, and the merges that joined Ann's web, app, store and phone profiles:"
bin/cx360 tail --topic identity.changes --max 0 --format brief
echo
log "Ann's unified profile (GET /v1/customers/lookup?type=email&value=Ann.Smith@Example.com):"
ann="http://127.0.0.1:8082/v1/customers/lookup?type=email&value=Ann.Smith@Example.com"
# Identity answers 503 (Retry-After) until it has caught up, and 404 until it resolved Ann.
for _ in $(seq 1 50); do
	[ "$(curl -sS -o /dev/null -w '%{http_code}' "$ann")" = 200 ] && break
	sleep 0.2
done
curl -sS "$ann" | python3 -m json.tool 2>/dev/null || curl -sS "$ann"
echo
log "a realistic retailer: $CUSTOMERS customers over four weeks, sent through the ingest API (cx360 gen)"
bin/cx360 gen --customers "$CUSTOMERS" --seed 7 --truth "$DATA/truth.json"
echo
# Everything on cx.events must reach ClickHouse: every event once, after FINAL.
want=$(bin/cx360 tail --topic events --max 0 --format brief | wc -l)
log "waiting until ClickHouse holds all $want events (identity, then the sink)"
q() { clickhouse-client --host 127.0.0.1 --port 9000 --query "$1" 2>/dev/null || echo 0; }
for _ in $(seq 1 600); do
	n=$(q "SELECT count() FROM cx360.journey_events FINAL")
	printf '\r  %s of %s events in ClickHouse' "$n" "$want"
	[ "${n:-0}" -ge "$want" ] && break
	sleep 0.5
done
echo
[ "${n:-0}" -ge "$want" ] || die "ClickHouse holds $n of $want events after 5 minutes; see $DATA/dev.log"
# Profiles and identity changes follow their events within the identity stage's
# profile interval: wait until they stop changing.
last=""
for _ in $(seq 1 60); do
	now=$(q "SELECT concat(toString(count()), '/', toString(sum(is_deleted))) FROM cx360.customers FINAL")/$(q "SELECT count() FROM cx360.identity_changes")
	[ "$now" = "$last" ] && break
	last=$now
	sleep 1
done
echo
log "the customer-experience report (journey phases, satisfaction, contact centre, friction, one journey, identity merges):"
bin/cx360 report --clickhouse-addr 127.0.0.1:9000 --out "$DATA/report.html"
echo
log "open it:  xdg-open $DATA/report.html   (a single file: no network needed)"
echo
if [ "${KEEP:-0}" = 1 ]; then
	log "the stack keeps running (pid $dev_pid): try  curl -XPOST localhost:8080/v1/web/events -d '{...}'  and  bin/cx360 tail"
else
	log "done. Run 'bin/cx360 dev' to keep a stack running, or KEEP=1 scripts/demo.sh."
fi
