package avro_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/registry/registrytest"
)

// TestRegistryUnavailableIsToldApartFromAMissingSchema decodes records of a
// schema the decoder has not seen, through a registry that is down (503,
// then unreachable) and through one that answers it has no such schema:
// only the first kind of failure is one to retry.
func TestRegistryUnavailableIsToldApartFromAMissingSchema(t *testing.T) {
	ctx := context.Background()
	url := registrytest.Start(t).URL()
	writer, _ := sr.NewClient(sr.URLs(url))
	codec, err := avro.NewSerde(writer).Register(ctx, "t-value", `{"type":"record","name":"T","fields":[{"name":"a","type":"string"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	record, err := codec.Append(nil, map[string]any{"a": "x"})
	if err != nil {
		t.Fatal(err)
	}
	outage := registrytest.NewOutage(t, url)
	reader, _ := sr.NewClient(sr.URLs(outage.URL))
	serde := avro.NewSerde(reader)

	outage.Down.Store(true)
	if _, _, err := serde.Decode(ctx, record); !avro.IsRegistryUnavailable(err) {
		t.Fatalf("registry answering 503: err %v, want one IsRegistryUnavailable reports", err)
	}
	unreachable, _ := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	if _, _, err := avro.NewSerde(unreachable).Decode(ctx, record); !avro.IsRegistryUnavailable(err) {
		t.Fatalf("registry unreachable: err %v, want one IsRegistryUnavailable reports", err)
	}
	outage.Down.Store(false)
	native, _, err := serde.Decode(ctx, record)
	if err != nil || native.(map[string]any)["a"] != "x" {
		t.Fatalf("registry back: %v, %v", native, err)
	}
	missing := append([]byte{0, 0, 0, 0x7f, 0x7f}, record[5:]...) // a schema id the registry never gave
	if _, _, err := serde.Decode(ctx, missing); err == nil || avro.IsRegistryUnavailable(err) {
		t.Fatalf("schema not in the registry: err %v, want a permanent error", err)
	}
}
