package graph

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tenantd/tenantd"
)

// ContentBudget caps the text one answer carries. The complexity limit
// bounds how many fields an answer has, not how large they are: a
// document's content may be 10 MiB, so 100 aliases of one document would
// otherwise build a gigabyte answer in memory. Every string a field resolves
// to is counted; past MaxBytes a field resolves to an error instead (and
// null). Subscriptions are not counted: their messages are small and many.
type ContentBudget struct {
	MaxBytes int64
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.FieldInterceptor
} = ContentBudget{}

type budgetKey struct{}

// budget is what is left of one answer's text allowance.
type budget struct {
	left atomic.Int64
	max  int64
}

// ExtensionName implements graphql.HandlerExtension.
func (ContentBudget) ExtensionName() string { return "ContentBudget" }

// Validate implements graphql.HandlerExtension.
func (b ContentBudget) Validate(graphql.ExecutableSchema) error {
	if b.MaxBytes < 1 {
		return fmt.Errorf("content budget: MaxBytes must be positive")
	}
	return nil
}

// InterceptOperation implements graphql.OperationInterceptor: each query
// or mutation gets its own budget.
func (b ContentBudget) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation != ast.Subscription {
		bud := &budget{max: b.MaxBytes}
		bud.left.Store(b.MaxBytes)
		ctx = context.WithValue(ctx, budgetKey{}, bud)
	}
	return next(ctx)
}

// InterceptField implements graphql.FieldInterceptor.
func (b ContentBudget) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	bud, ok := ctx.Value(budgetKey{}).(*budget)
	if err != nil || !ok {
		return res, err
	}
	var n int
	switch v := res.(type) {
	case string:
		n = len(v)
	case *string:
		if v != nil {
			n = len(*v)
		}
	default:
		return res, nil
	}
	if bud.left.Add(-int64(n)) < 0 {
		return nil, overBudget(bud.max)
	}
	return res, nil
}

func overBudget(max int64) error {
	return tenantd.Errorf(tenantd.EINVALID,
		"this answer would carry more than %d bytes of text; ask for fewer documents' content per request", max)
}

// contentFits refuses, before it is read, a text of n bytes that the
// answer's budget has no room for.
func contentFits(ctx context.Context, n int64) error {
	bud, ok := ctx.Value(budgetKey{}).(*budget)
	if ok && bud.left.Load() < n {
		return overBudget(bud.max)
	}
	return nil
}
