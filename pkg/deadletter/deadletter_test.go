package deadletter_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/deadletter"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/schemas"
)

// TestEncodeKeepsADeadLetterWithinTheLimit encodes dead letters of records
// of every size around the limit with a registered cx.DeadLetter, and
// decodes them again: each fits with its key, keeps all its raw bytes when
// they fit and their head, said so in its error, when they do not.
func TestEncodeKeepsADeadLetterWithinTheLimit(t *testing.T) {
	ctx := context.Background()
	cl, _ := sr.NewClient(sr.URLs(registrytest.Start(t).URL()))
	serde := avro.NewSerde(cl)
	codec, err := serde.RegisterTopic(ctx, "cx.events.dlq", schemas.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	for _, size := range []int{0, 100, limit - 300, limit - 100, limit, limit + 1, 4 * limit} {
		m := kafkago.Message{Topic: "cx.events", Partition: 2, Offset: 41, Value: bytes.Repeat([]byte{'x'}, size)}
		b, err := deadletter.Encode(codec, deadletter.OfRecord("identity", "undecodable_event", m, errors.New("bad"), time.Now()), len(m.Topic), limit)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if len(m.Topic)+len(b) > limit {
			t.Fatalf("%d bytes: the dead letter is %d bytes with its key, over %d", size, len(m.Topic)+len(b), limit)
		}
		native, _, err := serde.Decode(ctx, b)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		dl := native.(map[string]any)
		raw, msg := dl["raw"].([]byte), dl["error"].(string)
		if dl["id"] != "identity-cx.events-2-41" || !bytes.HasPrefix(m.Value, raw) {
			t.Fatalf("%d bytes: dead letter %v with %d raw bytes", size, dl["id"], len(raw))
		}
		if cut := len(raw) < size; cut != strings.Contains(msg, "[raw truncated: the first") || (!cut && msg != "bad") {
			t.Fatalf("%d bytes: %d raw bytes kept, error %q", size, len(raw), msg)
		}
	}
}
