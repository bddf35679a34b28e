package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/privacy"
)

func TestErrorPresenter(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	var codes []string
	present := ErrorPresenter(log, func(c string) { codes = append(codes, c) })
	ctx := context.Background()

	cases := []struct {
		err  error
		code string
		msg  string
	}{
		{fmt.Errorf("load tenant: %w", errors.New("pq: password authentication failed for user secret_user")), "INTERNAL", "internal error"},
		{tenantd.Invalid("slug", "slug is taken"), "INVALID_INPUT", "slug is taken"},
		{fmt.Errorf("wrapped: %w", tenantd.Errorf(tenantd.EINVALIDTRANSITION, "cannot")), "INVALID_TRANSITION", "cannot"},
		{privacy.Denyf("rule"), "NOT_FOUND", "not found"},
		{&gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}, "INVALID_INPUT", "Cannot query field"},
	}
	for _, c := range cases {
		got := present(ctx, c.err)
		require.Equal(t, c.code, got.Extensions["code"], c.err.Error())
		require.Equal(t, c.msg, got.Message)
	}
	require.Equal(t, "slug", present(ctx, tenantd.Invalid("slug", "x")).Extensions["field"])
	require.Contains(t, logged.String(), "secret_user", "internal details go to the log")
	require.Len(t, codes, len(cases)+1)
}
