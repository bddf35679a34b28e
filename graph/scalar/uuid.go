// Package scalar binds GraphQL scalars to Go types: ID to uuid.UUID and Time
// to time.Time. Their unmarshalers answer a malformed value with
// INVALID_INPUT naming the argument or input field it was given for, never
// with an internal error.
package scalar

import (
	"context"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tenantd/tenantd"
)

// MarshalUUIDContext writes an id as a GraphQL string.
func MarshalUUIDContext(u uuid.UUID) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, strconv.Quote(u.String()))
		return err
	})
}

// UnmarshalUUIDContext reads an id. A malformed one is INVALID_INPUT naming
// the field it was given for.
func UnmarshalUUIDContext(ctx context.Context, v any) (uuid.UUID, error) {
	field := fieldOf(ctx, "id")
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, tenantd.Invalid(field, "%s must be a string holding a UUID, got %T", field, v)
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, tenantd.Invalid(field, "%s: %q is not a valid id: ids are UUIDs like 0192f0c1-7a3e-7c2e-9b1d-3f5e8a6b4c21", field, truncate(s, 64))
	}
	return u, nil
}

// fieldOf names the argument or input field being read: the last name on
// the path gqlgen keeps while it unmarshals arguments.
func fieldOf(ctx context.Context, fallback string) string {
	path := graphql.GetPath(ctx)
	for i := len(path) - 1; i >= 0; i-- {
		if name, ok := path[i].(ast.PathName); ok {
			return string(name)
		}
	}
	return fallback
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
