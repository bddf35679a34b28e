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
		left := &atomic.Int64{}
		left.Store(b.MaxBytes)
		ctx = context.WithValue(ctx, budgetKey{}, left)
	}
	return next(ctx)
}

// InterceptField implements graphql.FieldInterceptor.
func (b ContentBudget) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	left, ok := ctx.Value(budgetKey{}).(*atomic.Int64)
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
	if left.Add(-int64(n)) < 0 {
		return nil, tenantd.Errorf(tenantd.EINVALID,
			"this answer would carry more than %d bytes of text; ask for fewer documents' content per request", b.MaxBytes)
	}
	return res, nil
}
