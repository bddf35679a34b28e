// Package schema holds the hand-written ent schemas of tenantd. Everything
// else under ent/ is generated from it by `make generate`.
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// NewID returns a time-ordered (version 7) UUID: ids stay unique across
// replicas and stores, and new rows land at the right edge of the primary key
// index instead of at random pages.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Now returns the current time truncated to microseconds, the precision both
// PostgreSQL and the hash chain's canonical encoding keep.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Unset is the default of the time fields a row records of itself
// (created_at, updated_at, occurred_at, …): the zero time, which the
// client's hook (store.clockDefaults) replaces with the store's clock, the
// server's injected one, so that a row made under a fake clock carries the
// fake time. A default function cannot see the clock of the client it runs
// in. A time set explicitly keeps its value.
func Unset() time.Time { return time.Time{} }

// IDMixin gives an entity a UUID primary key.
type IDMixin struct{ mixin.Schema }

// Fields of the IDMixin.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(NewID).Immutable(),
	}
}

// TimeMixin records when a row was created and last updated.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(Unset).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(Unset).UpdateDefault(Unset).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}
