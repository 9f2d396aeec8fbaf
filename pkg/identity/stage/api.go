package stage

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/normalize"
)

// API serves the profile API (DESIGN.md "Identity resolution"):
//
//	GET    /v1/customers/{id}                      profile (a merged-away id answers with its survivor)
//	GET    /v1/customers/lookup?type=&value=       profile holding an identifier
//	DELETE /v1/customers/{id}                      erasure
//	POST   /v1/customers/{id}/split                undo the customer's merges
//	POST   /v1/identifiers/{type}/{value}/unlink   stop an identifier bridging profiles, undo its merges
//
// A standby forwards every request to the active instance (see forward).
type API struct {
	stage     *Stage
	region    string
	logger    *zap.Logger
	transport http.RoundTripper // to the active instance
}

// Register adds the API's routes to mux and returns their patterns.
func (a *API) Register(mux *http.ServeMux) []string {
	routes := []struct {
		pattern string
		handler http.HandlerFunc
	}{
		{"GET /v1/customers/lookup", a.lookup},
		{"GET /v1/customers/{id}", a.get},
		{"DELETE /v1/customers/{id}", a.erase},
		{"POST /v1/customers/{id}/split", a.split},
		{"POST /v1/identifiers/{type}/{value}/unlink", a.unlink},
	}
	patterns := make([]string, 0, len(routes))
	for _, r := range routes {
		mux.HandleFunc(r.pattern, a.activeOnly(r.handler))
		patterns = append(patterns, r.pattern)
	}
	return patterns
}

// activeOnly serves a request on the active instance, and forwards it from
// a standby (see forward). The active instance itself answers 503
// catching_up until its graph holds its predecessors' operator actions
// (Stage.ReadServing, and the worker for commands): until then it may hold
// a customer they erased.
func (a *API) activeOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.stage.Active() {
			h(w, r)
			return
		}
		a.forward(w, r, h)
	}
}

// catchingUp answers 503 catching_up: retry in a moment.
func (a *API) catchingUp(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, apiError{"catching_up", ErrCatchingUp.Error()})
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// profileAnswer is a profile plus, when the id asked for was merged away, that id.
type profileAnswer struct {
	identity.Profile
	RequestedID string `json:"requested_id,omitempty"`
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var p identity.Profile
	var ok bool
	if !a.stage.ReadServing(func(g *identity.Graph) { p, ok = g.Profile(id) }) {
		a.catchingUp(w)
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{"not_found", "no customer " + id})
		return
	}
	ans := profileAnswer{Profile: p}
	if p.CustomerID != id {
		ans.RequestedID = id
		w.Header().Set("Content-Location", "/v1/customers/"+p.CustomerID)
	}
	writeJSON(w, http.StatusOK, ans)
}

func (a *API) lookup(w http.ResponseWriter, r *http.Request) {
	typ, raw := r.URL.Query().Get("type"), r.URL.Query().Get("value")
	if typ == "" || raw == "" {
		writeJSON(w, http.StatusBadRequest, apiError{"bad_request", "type and value are required"})
		return
	}
	value, err := normalize.Identifier(typ, raw, a.region)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_identifier", err.Error()})
		return
	}
	var p identity.Profile
	var ok bool
	if !a.stage.ReadServing(func(g *identity.Graph) { p, ok = g.Lookup(typ, value) }) {
		a.catchingUp(w)
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{"not_found", "no customer holds " + typ + " " + value})
		return
	}
	writeJSON(w, http.StatusOK, profileAnswer{Profile: p})
}

// commandAnswer is what an operator action changed.
type commandAnswer struct {
	Changes []identity.Change `json:"changes"`
	Updated []string          `json:"updated"`
	Removed []string          `json:"removed"`
}

func (a *API) do(w http.ResponseWriter, r *http.Request, apply func(g *identity.Graph, at time.Time) (identity.Result, error)) {
	res, err := a.stage.Do(r.Context(), apply)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{"not_found", err.Error()})
	case errors.Is(err, ErrStandby):
		a.refuse(w, err.Error()) // the lease moved while the request was on its way
	case errors.Is(err, ErrCatchingUp):
		a.catchingUp(w)
	case err != nil:
		a.logger.Warn("identity command failed", zap.Error(err))
		writeJSON(w, http.StatusServiceUnavailable, apiError{"unavailable", "the change could not be made durable; retry"})
	default:
		if res.Changes == nil {
			res.Changes = []identity.Change{}
		}
		writeJSON(w, http.StatusOK, commandAnswer{Changes: res.Changes, Updated: nonNil(res.Updated), Removed: nonNil(res.Removed)})
	}
}

func (a *API) erase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.do(w, r, func(g *identity.Graph, at time.Time) (identity.Result, error) { return g.Erase(id, at) })
}

func (a *API) split(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.do(w, r, func(g *identity.Graph, at time.Time) (identity.Result, error) { return g.Split(id, at) })
}

func (a *API) unlink(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	value, err := normalize.Identifier(typ, r.PathValue("value"), a.region)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid_identifier", err.Error()})
		return
	}
	a.do(w, r, func(g *identity.Graph, at time.Time) (identity.Result, error) { return g.Unlink(typ, value, at) })
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away
}
