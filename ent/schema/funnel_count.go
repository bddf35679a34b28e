package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// FunnelCount is the funnel's rollup: counters per signup day (the cohort),
// plan and metric — milestone counts, activations within the window, and
// histograms of the time between steps (bucket). The activationFunnel query
// sums these rows instead of scanning tenants, so it stays fast at millions
// of tenants. Each counter is spread over slots so that concurrent signups
// seldom wait on one row.
type FunnelCount struct{ ent.Schema }

// Fields of the FunnelCount.
func (FunnelCount) Fields() []ent.Field {
	return []ent.Field{
		field.Time("day").Comment("UTC midnight of the signup day"),
		field.String("plan_key"),
		field.String("metric").Comment("step:<milestone>, activated, or dur:<from>-<to> with a bucket"),
		field.Int("bucket").Default(0),
		field.Int("slot").Default(0),
		field.Int64("count").Default(0),
	}
}

// Indexes of the FunnelCount.
func (FunnelCount) Indexes() []ent.Index {
	return []ent.Index{index.Fields("day", "plan_key", "metric", "bucket", "slot").Unique()}
}

// Annotations of the FunnelCount.
func (FunnelCount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the FunnelCount.
func (FunnelCount) Policy() ent.Policy { return systemOnlyPolicy() }
