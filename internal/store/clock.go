package store

import (
	"context"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
)

// recordedTimes are the time fields a row records of itself, whose schema
// default is schema.Unset (the zero time): created_at, updated_at (also on
// update), occurred_at, state_changed_at, received_at, downloaded_at.
var recordedTimes = []string{"created_at", "updated_at", "occurred_at", "state_changed_at", "received_at", "downloaded_at"}

// clockDefaults is the client hook that gives the recordedTimes left to
// their default the store's clock — the server's injected one — so that
// every row made under a fake clock carries the fake time (a default
// function in the schema cannot see the clock of the client it runs in). A
// time set explicitly, or a field the entity does not have, is left alone.
func clockDefaults(clock tenantd.Clock) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			var names []string
			switch {
			case m.Op().Is(ent.OpCreate):
				names = recordedTimes
			case m.Op().Is(ent.OpUpdate | ent.OpUpdateOne):
				names = recordedTimes[1:2]
			}
			var now time.Time
			for _, name := range names {
				v, ok := m.Field(name)
				if t, isTime := v.(time.Time); !ok || !isTime || !t.IsZero() {
					continue
				}
				if now.IsZero() {
					now = tenantd.Now(clock)
				}
				if err := m.SetField(name, now); err != nil {
					return nil, err
				}
			}
			return next.Mutate(ctx, m)
		})
	}
}
