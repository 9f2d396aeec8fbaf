package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
)

const (
	contentType  = "application/vnd.schemaregistry.v1+json"
	maxBodyBytes = 1 << 20
)

// Confluent error codes the registry answers with.
const (
	codeIncompatible       = 409
	codeSubjectNotFound    = 40401
	codeVersionNotFound    = 40402
	codeInvalidSchema      = 42201
	codeInvalidVersion     = 42202
	codeInvalidCompat      = 42203
	codeNotPermitted       = 42205
	codeStoreError         = 50001
	msgInvalidCompat       = "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
	msgIncompatiblePrefix  = "Schema being registered is incompatible with an earlier schema for subject "
	msgUnsupportedMutation = "is not supported by the embedded registry: only registering schemas and setting compatibility are kept across restarts"
)

// routes puts the changes that must be checked or persisted in front of
// srfake, lets every read through to it, and refuses other changes (deletes,
// modes, contexts) that would otherwise be silently lost on restart.
func (s *Server) routes() http.Handler {
	fake := s.fake.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET /", fake)
	mux.Handle("POST /subjects/{subject}", fake) // lookup: reads only
	mux.HandleFunc("POST /subjects/{subject}/versions", s.handleRegister)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", s.handleCheckCompatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", s.handleCheckCompatibility)
	mux.HandleFunc("PUT /config", s.handleSetConfig)
	mux.HandleFunc("PUT /config/{subject}", s.handleSetConfig)
	mux.HandleFunc("DELETE /config/{subject}", s.handleResetConfig)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusUnprocessableEntity, codeNotPermitted,
			fmt.Sprintf("%s %s %s", req.Method, req.URL.Path, msgUnsupportedMutation))
	})
	return mux
}

// handleRegister answers POST /subjects/{subject}/versions.
func (s *Server) handleRegister(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	var body sr.SubjectSchema
	if err := decodeBody(w, req, &body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: "+err.Error())
		return
	}
	if body.ID > 0 || body.Version > 0 {
		writeError(w, http.StatusUnprocessableEntity, codeNotPermitted,
			"registering with an explicit id or version needs IMPORT mode, which the embedded registry does not support")
		return
	}
	candidate := body.Schema

	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.subjectSchemas(subject)
	for _, old := range existing {
		if sameSchema(old.Schema, candidate) {
			writeJSON(w, http.StatusOK, map[string]int{"id": old.ID})
			return
		}
	}
	level := s.levelFor(subject)
	problems, err := s.incompatibilities(level, candidate, versionsToCheck(level, existing))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: "+err.Error())
		return
	}
	if len(problems) > 0 {
		details := make([]string, len(problems))
		for i, p := range problems {
			details[i] = p.String()
		}
		writeError(w, http.StatusConflict, codeIncompatible,
			fmt.Sprintf("%s%q, details: [%s]", msgIncompatiblePrefix, subject, strings.Join(details, ", ")))
		return
	}
	id, version, err := s.fake.RegisterSchema(subject, candidate)
	if err != nil {
		// With deletes refused, srfake only fails registration on invalid input.
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, err.Error())
		return
	}
	s.versions[subject] = append(s.versions[subject], version)
	rec := record{Op: opSchema, Subject: subject, Version: version, ID: id, Schema: &candidate}
	if err := s.store.append(rec); err != nil {
		s.logger.Error("schema registered but not persisted", zap.String("subject", subject),
			zap.Int("version", version), zap.Int("id", id), zap.Error(err))
		writeError(w, http.StatusInternalServerError, codeStoreError, "Error while registering schema: "+err.Error())
		return
	}
	s.logger.Info("schema registered", zap.String("subject", subject),
		zap.Int("version", version), zap.Int("id", id), zap.Stringer("compatibility", level))
	writeJSON(w, http.StatusOK, map[string]int{"id": id})
}

// handleCheckCompatibility answers POST /compatibility/subjects/{subject}/versions[/{version}];
// without a version it checks the versions the subject's level names.
func (s *Server) handleCheckCompatibility(w http.ResponseWriter, req *http.Request) {
	subject, versionParam := req.PathValue("subject"), req.PathValue("version")
	var candidate sr.Schema
	if err := decodeBody(w, req, &candidate); err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: "+err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.subjectSchemas(subject)
	if len(existing) == 0 {
		writeError(w, http.StatusNotFound, codeSubjectNotFound, fmt.Sprintf("Subject '%s' not found.", subject))
		return
	}
	level := s.levelFor(subject)
	against := versionsToCheck(level, existing)
	if versionParam != "" {
		old, status, code, msg := pickVersion(existing, versionParam)
		if status != http.StatusOK {
			writeError(w, status, code, msg)
			return
		}
		against = []sr.SubjectSchema{old}
		if backward, forward, _ := directions(level); !backward && !forward {
			against = nil
		}
	}
	problems, err := s.incompatibilities(level, candidate, against)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: "+err.Error())
		return
	}
	resp := struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages,omitempty"`
	}{IsCompatible: len(problems) == 0}
	if req.URL.Query().Get("verbose") == "true" {
		resp.Messages = []string{}
		for _, p := range problems {
			resp.Messages = append(resp.Messages, p.String())
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// pickVersion finds "latest" or a numbered version among a subject's versions.
func pickVersion(existing []sr.SubjectSchema, param string) (old sr.SubjectSchema, status, code int, msg string) {
	if param == "latest" || param == "-1" {
		return existing[len(existing)-1], http.StatusOK, 0, ""
	}
	v, err := strconv.Atoi(param)
	if err != nil || v <= 0 {
		return old, http.StatusUnprocessableEntity, codeInvalidVersion,
			fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", param)
	}
	for _, ss := range existing {
		if ss.Version == v {
			return ss, http.StatusOK, 0, ""
		}
	}
	return old, http.StatusNotFound, codeVersionNotFound, fmt.Sprintf("Version %d not found.", v)
}

// handleSetConfig answers PUT /config and PUT /config/{subject}: it persists
// the level, then lets srfake apply it and answer.
func (s *Server) handleSetConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	var body struct {
		Compatibility sr.CompatibilityLevel `json:"compatibility"`
	}
	if err := decodeBody(w, req, &body); err != nil || body.Compatibility.String() == "" {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidCompat, msgInvalidCompat)
		return
	}
	level := body.Compatibility

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.append(record{Op: opConfig, Subject: subject, Level: level}); err != nil {
		s.logger.Error("compatibility change not persisted", zap.String("subject", subject), zap.Error(err))
		writeError(w, http.StatusInternalServerError, codeStoreError, "Error while updating compatibility: "+err.Error())
		return
	}
	if subject == "" {
		s.globalLevel = level
	} else {
		s.subjectLevels[subject] = level
	}
	s.logger.Info("compatibility set", zap.String("subject", subject), zap.Stringer("compatibility", level))
	// srfake reads the body strictly; hand it exactly the form it expects.
	canonical := fmt.Sprintf(`{"compatibility":%q}`, level)
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(canonical)), int64(len(canonical))
	s.fake.Handler().ServeHTTP(w, req)
}

// handleResetConfig answers DELETE /config/{subject}: the subject falls back to the global level.
func (s *Server) handleResetConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.append(record{Op: opConfigReset, Subject: subject}); err != nil {
		s.logger.Error("compatibility reset not persisted", zap.String("subject", subject), zap.Error(err))
		writeError(w, http.StatusInternalServerError, codeStoreError, "Error while deleting compatibility: "+err.Error())
		return
	}
	delete(s.subjectLevels, subject)
	s.fake.Handler().ServeHTTP(w, req)
}

// subjectSchemas returns a subject's versions in ascending order. Caller holds mu.
func (s *Server) subjectSchemas(subject string) []sr.SubjectSchema {
	var out []sr.SubjectSchema
	for _, v := range s.versions[subject] {
		if ss, ok := s.fake.GetSchema(subject, v); ok {
			out = append(out, ss)
		}
	}
	return out
}

// levelFor is the subject's own level, else the global one. Caller holds mu.
func (s *Server) levelFor(subject string) sr.CompatibilityLevel {
	if level, ok := s.subjectLevels[subject]; ok {
		return level
	}
	return s.globalLevel
}

// decodeBody reads one JSON value of at most maxBodyBytes; unknown fields are
// ignored, as Confluent does.
func decodeBody(w http.ResponseWriter, req *http.Request, into any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	return nil
}

type apiError struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{ErrorCode: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one left to tell.
	_ = json.NewEncoder(w).Encode(body)
}
