package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/kafka"
)

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		kc     config.Kafka
		rc     config.Registry
		topic  string
		limit  int
		pretty bool
		format string
	)
	fs := config.NewFlagSet("cx360 tail", os.LookupEnv)
	fs.SetOutput(stderr)
	kc.Bind(fs)
	rc.Bind(fs)
	fs.String(&topic, "topic", "events", "topic to read, without the prefix (events, events.dlq, journeys, customers, identity.changes) or in full")
	fs.Int(&limit, "max", 20, "most records to print (0: all)")
	fs.Bool(&pretty, "pretty", true, "indent the JSON")
	fs.String(&format, "format", "json", "json (one record per JSON document) or brief (one line per record)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cx360 tail [flags]\n\nPrints the records of a cx360 topic, decoded from Avro through the schema\nregistry, as JSON lines: key, partition, offset, schema id and value.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	name := topic
	if !strings.HasPrefix(topic, kc.TopicPrefix) {
		name = kc.TopicPrefix + topic
	}
	client, err := avro.NewRegistryClient(rc)
	if err != nil {
		return err
	}
	serde := avro.NewSerde(client)
	cluster, err := kafka.NewCluster(kc)
	if err != nil {
		return err
	}
	msgs, err := cluster.Snapshot(ctx, name, limit)
	if err != nil {
		return err
	}
	if format != "json" && format != "brief" {
		return usageError{fmt.Errorf("--format %q: want json or brief", format)}
	}
	enc := json.NewEncoder(stdout)
	if pretty {
		enc.SetIndent("", "  ")
	}
	for _, m := range msgs {
		rec := map[string]any{"topic": m.Topic, "partition": m.Partition, "offset": m.Offset, "key": string(m.Key)}
		if m.Value == nil {
			rec["value"] = nil // a tombstone
		} else if native, id, err := serde.Decode(ctx, m.Value); err != nil {
			rec["error"] = err.Error()
		} else {
			rec["schema_id"], rec["value"] = id, avro.Plain(native)
		}
		if format == "brief" {
			fmt.Fprintln(stdout, brief(rec))
			continue
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d records from %s\n", len(msgs), name)
	return nil
}

// brief renders the fields people scan for in one line: the event's time,
// channel, type and identifiers (blocked ones marked !), or a dead letter's
// source, item and reason.
func brief(rec map[string]any) string {
	v, _ := rec["value"].(map[string]any)
	if v == nil {
		return fmt.Sprintf("%v/%v key=%v %v", rec["partition"], rec["offset"], rec["key"], orDash(rec["error"]))
	}
	if code, ok := v["reason_code"]; ok {
		return fmt.Sprintf("%-6v item %-4v %-20v %v", v["source"], orDash(v["index"]), code, v["error"])
	}
	if kind, ok := v["kind"]; ok { // an identity change
		return fmt.Sprintf("%-6v customer=%v related=%v event=%v %v", kind, short(v["customer_id"]), shortList(v["related_ids"]), orDash(v["event_id"]), orDash(v["reason"]))
	}
	if _, ok := v["version"]; ok && v["identifiers"] != nil && v["event_counts"] != nil { // a profile
		return fmt.Sprintf("customer=%v v%v identifiers=%d events=%v orders=%v spend=%v", short(v["customer_id"]), v["version"], len(v["identifiers"].([]any)), v["event_counts"], v["orders"], v["total_spend"])
	}
	prefix := ""
	if inner, ok := v["event"].(map[string]any); ok { // a journey event
		prefix = fmt.Sprintf("customer=%v %-10v ", short(v["customer_id"]), v["phase"])
		v = inner
	}
	var ids []string
	if list, ok := v["identifiers"].([]any); ok {
		for _, x := range list {
			id, _ := x.(map[string]any)
			mark := ""
			if id["blocked"] == true {
				mark = "!"
			}
			ids = append(ids, fmt.Sprintf("%s%v=%v", mark, id["type"], id["value"]))
		}
	}
	when, _ := v["event_time"].(string)
	if len(when) > 19 {
		when = when[:19]
	}
	key := fmt.Sprintf("key=%-28v ", rec["key"])
	if prefix != "" {
		key = prefix
	}
	return fmt.Sprintf("%-19s %-6v %-18v %-10v %s%s", when, orDash(v["channel"]), orDash(v["type"]), orDash(v["event_id"]), key, strings.Join(ids, " "))
}

// short abbreviates a customer id (a UUID) for one-line output.
func short(v any) string {
	s, _ := v.(string)
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func shortList(v any) string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = short(x)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
