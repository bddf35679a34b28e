package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Every subscribe message of a WebSocket becomes one gqlgen operation:
// CreateOperationContext (parse, validate, the OperationContextMutators)
// runs on the connection's read loop, then DispatchOperation runs it. Two
// extensions follow that path: wsAdmission, registered after every other
// mutator, decides on the subscribe once nothing else refuses it;
// wsOperationStart, registered first so that no other interceptor can skip
// it, learns the context gqlgen runs the operation in, which ends when
// gqlgen is done with it.

// wsAdmission admits or refuses each operation of a WebSocket (see
// wsConn.admit). HTTP requests pass untouched.
type wsAdmission struct{}

var _ graphql.OperationContextMutator = wsAdmission{}

// ExtensionName implements graphql.HandlerExtension.
func (wsAdmission) ExtensionName() string { return "WebSocketAdmission" }

// Validate implements graphql.HandlerExtension.
func (wsAdmission) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (wsAdmission) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if c := connFrom(ctx); c != nil {
		return c.admit(ctx, oc)
	}
	return nil
}

// wsOperationStart ties each admitted operation of a WebSocket to its
// context.
type wsOperationStart struct{}

var _ graphql.OperationInterceptor = wsOperationStart{}

// ExtensionName implements graphql.HandlerExtension.
func (wsOperationStart) ExtensionName() string { return "WebSocketOperationStart" }

// Validate implements graphql.HandlerExtension.
func (wsOperationStart) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (wsOperationStart) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if c := connFrom(ctx); c != nil && graphql.HasOperationContext(ctx) {
		c.started(ctx, graphql.GetOperationContext(ctx))
	}
	return next(ctx)
}
