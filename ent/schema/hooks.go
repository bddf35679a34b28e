package schema

import (
	"context"
	"fmt"

	"entgo.io/ent"

	"github.com/tenantd/tenantd/internal/statewrite"
)

// stateFields are the tenant columns only lifecycle writes.
var stateFields = []string{"state", "state_before_deletion", "history_seq", "history_head"}

// onlyLifecycleWritesState refuses a write of a tenant's state fields that
// does not come from lifecycle (statewrite.Permitted).
func onlyLifecycleWritesState() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			for _, f := range stateFields {
				_, set := m.Field(f)
				if (set || m.FieldCleared(f)) && !statewrite.Permitted(ctx) {
					return nil, fmt.Errorf("tenant.%s is written by internal/lifecycle alone: fire an event through it", f)
				}
			}
			return next.Mutate(ctx, m)
		})
	}
}

// onlyLifecycleWritesHistory refuses any write of the history that does not
// come from lifecycle.
func onlyLifecycleWritesHistory() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !statewrite.Permitted(ctx) {
				return nil, fmt.Errorf("the state history is written by internal/lifecycle alone (%s refused)", m.Op())
			}
			return next.Mutate(ctx, m)
		})
	}
}
