package schemas

import (
	_ "embed" // the OpenAPI documents are embedded below
	"fmt"
	"slices"
)

// Names of the embedded OpenAPI documents.
const (
	OpenAPIIngest   = "ingest"   // POST /v1/{channel}/events and the ingest service's operational endpoints
	OpenAPIIdentity = "identity" // the profile API and the identity service's operational endpoints
)

// The OpenAPI 3.0 documents of the HTTP APIs, served by each service at
// /openapi.json. The tests of pkg/ingest and pkg/identity/stage check them
// against the running handlers, so they are the source of truth for clients.
var (
	//go:embed openapi/ingest.json
	ingestOpenAPI []byte
	//go:embed openapi/identity.json
	identityOpenAPI []byte
)

// OpenAPI returns the named OpenAPI document (OpenAPIIngest or
// OpenAPIIdentity) as JSON. The caller owns the returned slice.
func OpenAPI(name string) ([]byte, error) {
	switch name {
	case OpenAPIIngest:
		return slices.Clone(ingestOpenAPI), nil
	case OpenAPIIdentity:
		return slices.Clone(identityOpenAPI), nil
	}
	return nil, fmt.Errorf("schemas: no OpenAPI document named %q (want %q or %q)", name, OpenAPIIngest, OpenAPIIdentity)
}

// MustOpenAPI is OpenAPI for names known at compile time; the package tests
// load both documents, so a failure here is a build defect.
func MustOpenAPI(name string) []byte {
	doc, err := OpenAPI(name)
	if err != nil {
		panic(err)
	}
	return doc
}
