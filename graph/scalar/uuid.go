// Package scalar binds GraphQL scalars to Go types: ID to uuid.UUID.
package scalar

import (
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// MarshalUUID writes an id as a GraphQL string.
func MarshalUUID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(u.String()))
	})
}

// UnmarshalUUID reads an id. A malformed one is INVALID_INPUT.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, tenantd.Invalid("id", "an id must be a string holding a UUID, got %T", v)
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, tenantd.Invalid("id", "%q is not a valid id: ids are UUIDs like 0192f0c1-7a3e-7c2e-9b1d-3f5e8a6b4c21", truncate(s, 64))
	}
	return u, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
