package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	// v1 of a record; the others are evolutions of it.
	schemaV1 = `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"},{"name":"count","type":"int"}]}`
	// addOptional adds a field with a default: BACKWARD and FORWARD compatible.
	addOptional = `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"},{"name":"count","type":"int"},
		{"name":"note","type":["null","string"],"default":null}]}`
	// addRequired adds a field without a default: new readers can't read old data.
	addRequired = `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"},{"name":"count","type":"int"},{"name":"store","type":"string"}]}`
	// changeType turns count from int into string.
	changeType = `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"},{"name":"count","type":"string"}]}`
	// dropRequired removes count, which old readers need and has no default.
	dropRequired = `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"}]}`
)

func avroSchema(text string) sr.Schema { return sr.Schema{Schema: text, Type: sr.TypeAvro} }

// startRegistry runs a registry on dir over real HTTP and returns it with a franz-go client.
func startRegistry(t *testing.T, dir string) (*Server, *sr.Client) {
	t.Helper()
	s, err := New(dir, zap.NewNop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { shutdown(t, s) })
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	return s, cl
}

func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func register(t *testing.T, cl *sr.Client, subject, text string) sr.SubjectSchema {
	t.Helper()
	ss, err := cl.CreateSchema(context.Background(), subject, avroSchema(text))
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss
}

// requireIncompatible asserts registration is refused the way Confluent refuses it.
func requireIncompatible(t *testing.T, cl *sr.Client, subject, text string) {
	t.Helper()
	_, err := cl.RegisterSchema(context.Background(), subject, avroSchema(text), -1, -1)
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("register incompatible schema in %s: want *sr.ResponseError, got %v", subject, err)
	}
	if re.StatusCode != http.StatusConflict || re.ErrorCode != 409 {
		t.Fatalf("status %d error_code %d, want 409/409 (%s)", re.StatusCode, re.ErrorCode, re.Message)
	}
	want := `Schema being registered is incompatible with an earlier schema for subject "` + subject + `", details: [`
	if !strings.HasPrefix(re.Message, want) {
		t.Fatalf("message %q, want prefix %q", re.Message, want)
	}
}

func checkCompatible(t *testing.T, cl *sr.Client, subject string, version int, text string) bool {
	t.Helper()
	res, err := cl.CheckCompatibility(context.Background(), subject, version, avroSchema(text))
	if err != nil {
		t.Fatalf("check compatibility: %v", err)
	}
	return res.Is
}

func subjectVersions(t *testing.T, cl *sr.Client, subject string) []int {
	t.Helper()
	vs, err := cl.SubjectVersions(context.Background(), subject)
	if err != nil {
		t.Fatalf("versions of %s: %v", subject, err)
	}
	return vs
}

func TestRegisterAndFetch(t *testing.T) {
	s, cl := startRegistry(t, t.TempDir())
	ctx := context.Background()

	first := register(t, cl, "cx.events-value", schemaV1)
	if first.ID <= 0 || first.Version != 1 {
		t.Fatalf("first registration: id %d version %d", first.ID, first.Version)
	}
	byID, err := cl.SchemaByID(ctx, first.ID)
	if err != nil || byID.Schema != schemaV1 {
		t.Fatalf("schema by id: %q, %v", byID.Schema, err)
	}
	for _, v := range []int{1, -1} { // -1 is "latest"
		ss, err := cl.SchemaByVersion(ctx, "cx.events-value", v)
		if err != nil || ss.ID != first.ID || ss.Version != 1 || ss.Schema.Schema != schemaV1 {
			t.Fatalf("schema by version %d: %+v, %v", v, ss, err)
		}
	}
	again, err := cl.RegisterSchema(ctx, "cx.events-value", avroSchema(schemaV1), -1, -1)
	if err != nil || again != first.ID {
		t.Fatalf("re-registration: id %d, %v; want %d", again, err, first.ID)
	}
	if vs := subjectVersions(t, cl, "cx.events-value"); !slices.Equal(vs, []int{1}) {
		t.Fatalf("versions %v, want [1]", vs)
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || !slices.Equal(subjects, []string{"cx.events-value"}) {
		t.Fatalf("subjects %v, %v", subjects, err)
	}
	looked, err := cl.LookupSchema(ctx, "cx.events-value", avroSchema(schemaV1))
	if err != nil || looked.ID != first.ID || looked.Version != 1 {
		t.Fatalf("lookup: %+v, %v", looked, err)
	}

	// The raw-schema endpoint, as a consumer without the franz-go client uses it.
	resp, err := http.Get(s.URL() + "/schemas/ids/1/schema")
	if err != nil {
		t.Fatalf("GET raw schema: %v", err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("raw schema: status %d, %v", resp.StatusCode, err)
	}
	if got := resp.Header.Get("Content-Type"); got != contentType {
		t.Fatalf("content type %q", got)
	}
}

func TestBackwardCompatibility(t *testing.T) {
	s, cl := startRegistry(t, t.TempDir())
	const subject = "cx.events-value"
	v1 := register(t, cl, subject, schemaV1)

	if !checkCompatible(t, cl, subject, -1, addOptional) {
		t.Fatal("adding an optional field should be compatible with latest")
	}
	if checkCompatible(t, cl, subject, 1, addRequired) {
		t.Fatal("adding a required field should not be compatible with version 1")
	}
	if checkCompatible(t, cl, subject, -2, changeType) { // -2: against the subject's versions
		t.Fatal("changing a field type should not be compatible")
	}
	verbose, err := cl.CheckCompatibility(sr.WithParams(context.Background(), sr.Verbose), subject, -1, avroSchema(changeType))
	if err != nil || verbose.Is || len(verbose.Messages) != 1 || !strings.Contains(verbose.Messages[0], "oldSchemaVersion: 1") {
		t.Fatalf("verbose check: %+v, %v", verbose, err)
	}
	t.Logf("verbose reason: %s", verbose.Messages[0])

	v2 := register(t, cl, subject, addOptional)
	if v2.Version != 2 || v2.ID == v1.ID {
		t.Fatalf("evolution: version %d id %d (v1 id %d)", v2.Version, v2.ID, v1.ID)
	}
	requireIncompatible(t, cl, subject, addRequired)
	requireIncompatible(t, cl, subject, changeType)
	if vs := subjectVersions(t, cl, subject); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("refused schemas must not add versions: %v", vs)
	}

	// The same refusal seen by a plain HTTP client.
	body, err := json.Marshal(map[string]string{"schema": addRequired})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.URL()+"/subjects/"+subject+"/versions", contentType, strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var apiErr struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&apiErr); err != nil {
		t.Fatalf("decode error body: %v", err)
	}
	if resp.StatusCode != http.StatusConflict || apiErr.ErrorCode != 409 ||
		!strings.Contains(apiErr.Message, `incompatible with an earlier schema for subject "cx.events-value"`) ||
		!strings.Contains(apiErr.Message, "store") {
		t.Fatalf("raw refusal: status %d body %+v", resp.StatusCode, apiErr)
	}
	t.Logf("409 message: %s", apiErr.Message)
}

func TestCompatibilityLevels(t *testing.T) {
	tests := []struct {
		level  sr.CompatibilityLevel
		next   string
		accept bool
	}{
		{sr.CompatNone, changeType, true},
		{sr.CompatBackward, addRequired, false},
		{sr.CompatBackward, dropRequired, true},
		{sr.CompatForward, addRequired, true},
		{sr.CompatForward, dropRequired, false},
		{sr.CompatFull, addOptional, true},
		{sr.CompatFull, addRequired, false},
		{sr.CompatFull, dropRequired, false},
	}
	_, cl := startRegistry(t, t.TempDir())
	ctx := context.Background()
	for i, tt := range tests {
		subject := "levels-" + tt.level.String() + "-" + string(rune('a'+i))
		register(t, cl, subject, schemaV1)
		res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: tt.level}, subject)
		if res[0].Err != nil || res[0].Level != tt.level {
			t.Fatalf("set %s: %+v", tt.level, res[0])
		}
		if got := checkCompatible(t, cl, subject, -1, tt.next); got != tt.accept {
			t.Errorf("%s: compatibility endpoint says %v, want %v", subject, got, tt.accept)
		}
		_, err := cl.RegisterSchema(ctx, subject, avroSchema(tt.next), -1, -1)
		if (err == nil) != tt.accept {
			t.Errorf("%s: register error %v, want accepted=%v", subject, err, tt.accept)
		}
	}
}

func TestTransitiveChecksEveryVersion(t *testing.T) {
	_, cl := startRegistry(t, t.TempDir())
	ctx := context.Background()
	const subject = "transitive"
	register(t, cl, subject, schemaV1)
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, subject); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	register(t, cl, subject, dropRequired) // v2 lacks count
	set := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackwardTransitive}, subject)
	if set[0].Err != nil {
		t.Fatal(set[0].Err)
	}
	// A string count with a default reads v2 data (no count at all) but not
	// v1 data, where count is an int.
	countAsString := `{"type":"record","name":"Event","namespace":"cx360.test","fields":[
		{"name":"id","type":"string"},{"name":"count","type":"string","default":""}]}`
	if !checkCompatible(t, cl, subject, 2, countAsString) {
		t.Fatal("against version 2 alone the schema should be compatible")
	}
	requireIncompatible(t, cl, subject, countAsString)
}

func TestNoneAllowsIncompatible(t *testing.T) {
	s, cl := startRegistry(t, t.TempDir())
	ctx := context.Background()
	const subject = "free"
	register(t, cl, subject, schemaV1)

	req, err := http.NewRequest(http.MethodPut, s.URL()+"/config/"+subject, strings.NewReader(`{"compatibility":"NONE"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT config: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT config status %d", resp.StatusCode)
	}

	if got := cl.Compatibility(ctx, subject)[0]; got.Err != nil || got.Level != sr.CompatNone {
		t.Fatalf("subject level %+v", got)
	}
	if got := cl.Compatibility(ctx)[0]; got.Err != nil || got.Level != sr.CompatBackward {
		t.Fatalf("global level %+v, want BACKWARD", got)
	}
	if !checkCompatible(t, cl, subject, -1, addRequired) {
		t.Fatal("NONE: everything is compatible")
	}
	if v2 := register(t, cl, subject, addRequired); v2.Version != 2 {
		t.Fatalf("NONE registration got version %d", v2.Version)
	}

	req, err = http.NewRequest(http.MethodPut, s.URL()+"/config/"+subject, strings.NewReader(`{"compatibility":"SOMETIMES"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT bad config: %v", err)
	}
	defer resp.Body.Close()
	var apiErr apiError
	if err := json.NewDecoder(resp.Body).Decode(&apiErr); err != nil || resp.StatusCode != http.StatusUnprocessableEntity ||
		apiErr.ErrorCode != codeInvalidCompat {
		t.Fatalf("bad level: status %d body %+v, %v", resp.StatusCode, apiErr, err)
	}
	if got := cl.Compatibility(ctx, subject)[0]; got.Level != sr.CompatNone {
		t.Fatalf("a refused level changed the subject: %+v", got)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	s1, cl := startRegistry(t, dir)
	a1 := register(t, cl, "a", schemaV1)
	a2 := register(t, cl, "a", addOptional)
	b1 := register(t, cl, "b", schemaV1) // same schema: shares a1's id
	if b1.ID != a1.ID {
		t.Fatalf("identical schema in another subject got id %d, want %d", b1.ID, a1.ID)
	}
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "b"); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForward}, "c"); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if res := cl.ResetCompatibility(ctx, "c"); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	shutdown(t, s1)
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}

	s2, cl := startRegistry(t, dir)
	for _, want := range []sr.SubjectSchema{a1, a2, b1} {
		got, err := cl.SchemaByVersion(ctx, want.Subject, want.Version)
		if err != nil || got.ID != want.ID || got.Schema.Schema != want.Schema.Schema {
			t.Fatalf("%s v%d after restart: %+v, %v; want id %d", want.Subject, want.Version, got, err, want.ID)
		}
		byID, err := cl.SchemaByID(ctx, want.ID)
		if err != nil || byID.Schema != want.Schema.Schema {
			t.Fatalf("id %d after restart: %q, %v", want.ID, byID.Schema, err)
		}
	}
	if got := cl.Compatibility(ctx, "b")[0]; got.Err != nil || got.Level != sr.CompatNone {
		t.Fatalf("b level after restart %+v", got)
	}
	if got := cl.Compatibility(ctx)[0]; got.Err != nil || got.Level != sr.CompatFull {
		t.Fatalf("global level after restart %+v", got)
	}
	if got := cl.Compatibility(ctx, "c")[0]; got.Err != nil || got.Level != sr.CompatFull {
		t.Fatalf("reset subject c should follow global after restart: %+v", got)
	}
	again, err := cl.RegisterSchema(ctx, "a", avroSchema(addOptional), -1, -1)
	if err != nil || again != a2.ID {
		t.Fatalf("re-registration after restart: %d, %v; want %d", again, err, a2.ID)
	}
	requireIncompatible(t, cl, "a", addRequired) // FULL, from the persisted global level

	b2 := register(t, cl, "b", changeType) // NONE, persisted for b
	if b2.Version != 2 || b2.ID == a1.ID || b2.ID == a2.ID {
		t.Fatalf("new schema after restart: id %d version %d collides with ids %d, %d", b2.ID, b2.Version, a1.ID, a2.ID)
	}
	shutdown(t, s2)

	// A second restart sees what the first restarted server wrote.
	_, cl = startRegistry(t, dir)
	if got, err := cl.SchemaByVersion(ctx, "b", 2); err != nil || got.ID != b2.ID {
		t.Fatalf("b v2 after second restart: %+v, %v", got, err)
	}
}

func TestTornFinalLineIsDropped(t *testing.T) {
	dir := t.TempDir()
	s1, cl := startRegistry(t, dir)
	v1 := register(t, cl, "torn", schemaV1)
	shutdown(t, s1)

	path := filepath.Join(dir, logFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"op":"schema","subject":"torn","vers`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.WarnLevel)
	s2, err := New(dir, zap.New(core))
	if err != nil {
		t.Fatalf("New with torn final line: %v", err)
	}
	t.Cleanup(func() { shutdown(t, s2) })
	if n := logs.FilterMessageSnippet("torn final record").Len(); n != 1 {
		t.Fatalf("want one warning about the torn record, got %d: %v", n, logs.All())
	}
	if err := s2.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	cl2, err := sr.NewClient(sr.URLs(s2.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cl2.SchemaByVersion(context.Background(), "torn", 1); err != nil || got.ID != v1.ID {
		t.Fatalf("v1 after torn line: %+v, %v", got, err)
	}
	v2 := register(t, cl2, "torn", addOptional)
	shutdown(t, s2)

	// The torn bytes were cut, so the record appended after them reloads.
	_, cl3 := startRegistry(t, dir)
	if got, err := cl3.SchemaByVersion(context.Background(), "torn", 2); err != nil || got.ID != v2.ID {
		t.Fatalf("v2 after second restart: %+v, %v", got, err)
	}
}

func TestCorruptionBeforeTheEndFailsStart(t *testing.T) {
	dir := t.TempDir()
	s1, cl := startRegistry(t, dir)
	register(t, cl, "x", schemaV1)
	register(t, cl, "x", addOptional)
	shutdown(t, s1)

	path := filepath.Join(dir, logFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = '#' // line 1 is no longer JSON
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = New(dir, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "corrupt at line 1") {
		t.Fatalf("New on a corrupt log: %v", err)
	}
}

func TestUnpersistedChangesAreRefused(t *testing.T) {
	s, cl := startRegistry(t, t.TempDir())
	ctx := context.Background()
	register(t, cl, "keep", schemaV1)

	_, err := cl.DeleteSubject(ctx, "keep", sr.SoftDelete)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnprocessableEntity || re.ErrorCode != codeNotPermitted {
		t.Fatalf("delete subject: %v", err)
	}
	if vs := subjectVersions(t, cl, "keep"); !slices.Equal(vs, []int{1}) {
		t.Fatalf("subject changed by a refused delete: %v", vs)
	}
	if _, err := cl.CreateSchemaWithIDAndVersion(ctx, "keep", avroSchema(addOptional), 99, 5); err == nil {
		t.Fatal("registering with an explicit id should be refused")
	}
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start should fail")
	}
}
