package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// maxReferenceDepth bounds reference resolution; srfake already refuses
// cycles, so this only guards against absurd nesting.
const maxReferenceDepth = 32

// incompatibility is one reason a schema cannot follow an existing version.
type incompatibility struct {
	version int
	level   sr.CompatibilityLevel
	reason  string
}

// String renders the reason in the shape Confluent uses inside its "details".
func (i incompatibility) String() string {
	return fmt.Sprintf("{errorType:'INCOMPATIBLE_SCHEMA', description:'%s'}, {oldSchemaVersion: %d}, {compatibility: '%s'}",
		i.reason, i.version, i.level)
}

// directions reports what a level checks: backward means the new schema can
// read data written with an old one, forward the reverse, and transitive
// means against every version rather than only the latest.
func directions(level sr.CompatibilityLevel) (backward, forward, transitive bool) {
	switch level {
	case sr.CompatBackward:
		return true, false, false
	case sr.CompatBackwardTransitive:
		return true, false, true
	case sr.CompatForward:
		return false, true, false
	case sr.CompatForwardTransitive:
		return false, true, true
	case sr.CompatFull:
		return true, true, false
	case sr.CompatFullTransitive:
		return true, true, true
	default: // NONE
		return false, false, false
	}
}

// versionsToCheck picks, from a subject's versions in ascending order, those
// the level compares a new schema with.
func versionsToCheck(level sr.CompatibilityLevel, existing []sr.SubjectSchema) []sr.SubjectSchema {
	backward, forward, transitive := directions(level)
	switch {
	case !backward && !forward, len(existing) == 0:
		return nil
	case transitive:
		return existing
	default:
		return existing[len(existing)-1:]
	}
}

// incompatibilities lists why candidate breaks level against each of the
// given versions; an error means candidate (or a stored schema) is not a
// valid schema at all. Only Avro is checked: JSON Schema and Protobuf pass.
func (s *Server) incompatibilities(level sr.CompatibilityLevel, candidate sr.Schema, against []sr.SubjectSchema) ([]incompatibility, error) {
	backward, forward, _ := directions(level)
	if candidate.Type != sr.TypeAvro {
		var out []incompatibility
		for _, old := range against {
			if old.Type != candidate.Type {
				out = append(out, incompatibility{old.Version, level,
					fmt.Sprintf("schema type changed from %s to %s", old.Type, candidate.Type)})
			}
		}
		return out, nil
	}
	next, err := s.parseAvro(candidate)
	if err != nil {
		return nil, fmt.Errorf("invalid Avro schema: %w", err)
	}
	var out []incompatibility
	for _, old := range against {
		if old.Type != sr.TypeAvro {
			out = append(out, incompatibility{old.Version, level,
				fmt.Sprintf("schema type changed from %s to %s", old.Type, candidate.Type)})
			continue
		}
		prev, err := s.parseAvro(old.Schema)
		if err != nil {
			return nil, fmt.Errorf("stored schema version %d: %w", old.Version, err)
		}
		if backward {
			if err := s.avroCompat.Compatible(next, prev); err != nil {
				out = append(out, incompatibility{old.Version, level, "new schema cannot read data written with the old one: " + err.Error()})
			}
		}
		if forward {
			if err := s.avroCompat.Compatible(prev, next); err != nil {
				out = append(out, incompatibility{old.Version, level, "old schema cannot read data written with the new one: " + err.Error()})
			}
		}
	}
	return out, nil
}

// parseAvro parses sch with its references resolved from the registry, in a
// private cache so that versions of the same named type never mix.
func (s *Server) parseAvro(sch sr.Schema) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	if err := s.addReferences(cache, sch.References, 0); err != nil {
		return nil, err
	}
	return avro.ParseWithCache(sch.Schema, "", cache)
}

func (s *Server) addReferences(cache *avro.SchemaCache, refs []sr.SchemaReference, depth int) error {
	if depth > maxReferenceDepth {
		return errors.New("schema references nest too deeply")
	}
	for _, ref := range refs {
		ss, ok := s.fake.GetSchema(ref.Subject, ref.Version)
		if !ok {
			return fmt.Errorf("reference %q: subject %q version %d not found", ref.Name, ref.Subject, ref.Version)
		}
		if err := s.addReferences(cache, ss.References, depth+1); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(ss.Schema.Schema, "", cache); err != nil {
			return fmt.Errorf("reference %q: %w", ref.Name, err)
		}
	}
	return nil
}

// sameSchema mirrors srfake's notion of an identical schema (same type, same
// JSON once normalised, same references), so that re-registering one is
// answered with its existing id before any compatibility check, as Confluent does.
func sameSchema(a, b sr.Schema) bool {
	if a.Type != b.Type || normalised(a) != normalised(b) || len(a.References) != len(b.References) {
		return false
	}
	byName := func(x, y sr.SchemaReference) int { return strings.Compare(x.Name, y.Name) }
	ra, rb := slices.Clone(a.References), slices.Clone(b.References)
	slices.SortFunc(ra, byName)
	slices.SortFunc(rb, byName)
	return slices.Equal(ra, rb)
}

func normalised(s sr.Schema) string {
	if s.Type == sr.TypeProtobuf {
		return s.Schema
	}
	var v any
	if err := json.Unmarshal([]byte(s.Schema), &v); err != nil {
		return s.Schema
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s.Schema
	}
	return string(b)
}
