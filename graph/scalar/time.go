package scalar

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tenantd/tenantd"
)

// MarshalTimeContext writes a time in RFC 3339 with nanoseconds; the zero
// time is null.
func MarshalTimeContext(t time.Time) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if t.IsZero() {
			_, err := io.WriteString(w, "null")
			return err
		}
		_, err := io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
		return err
	})
}

// UnmarshalTimeContext reads an RFC 3339 time. Anything else is
// INVALID_INPUT naming the field.
func UnmarshalTimeContext(ctx context.Context, v any) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	field := fieldOf(ctx, "time")
	s, ok := v.(string)
	if !ok {
		return time.Time{}, tenantd.Invalid(field, "%s must be a string holding an RFC 3339 time like 2026-12-02T10:00:00Z, got %T", field, v)
	}
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, time.DateTime} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, tenantd.Invalid(field, "%s: %q is not a time: use RFC 3339, like 2026-12-02T10:00:00Z", field, truncate(s, 64))
}
