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
	msgs, err := kafka.Snapshot(ctx, kc.Brokers, name, limit)
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
	if inner, ok := v["event"].(map[string]any); ok { // a journey event
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
	return fmt.Sprintf("%-19s %-6v %-18v %-10v key=%-28v %s", when, orDash(v["channel"]), orDash(v["type"]), orDash(v["event_id"]), rec["key"], strings.Join(ids, " "))
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
