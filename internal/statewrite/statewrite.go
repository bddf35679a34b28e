// Package statewrite guards the data only the lifecycle package may write:
// a tenant's state, state_before_deletion and the head of its history
// chain, and the history itself. The ent schema's hooks ask Permitted on
// every such write; lifecycle registers, once, the function that answers
// — recognising a context key no other package can make — so no other code
// path can change a state, whatever it imports. A second Register panics:
// nobody can replace lifecycle's answer.
package statewrite

import (
	"context"
	"sync/atomic"
)

var guard atomic.Pointer[func(context.Context) bool]

// Register installs the function that says whether ctx is lifecycle's own
// write. Only lifecycle calls it, from its init.
func Register(permitted func(context.Context) bool) {
	if !guard.CompareAndSwap(nil, &permitted) {
		panic("statewrite: Register called twice")
	}
}

// Permitted reports whether ctx may write a tenant's state or history.
// Before lifecycle is linked in, nothing may.
func Permitted(ctx context.Context) bool {
	f := guard.Load()
	return f != nil && (*f)(ctx)
}
