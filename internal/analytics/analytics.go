// Package analytics measures the activation funnel: signup → provisioned →
// first upload → first query.
//
// Other packages call RecordTx inside the transactions of the acts
// themselves. It writes three things, all or nothing with the act:
//
//   - a Milestone row per tenant and milestone (recorded once);
//   - the tenant's Activation row (one per non-synthetic tenant), which holds
//     when it reached each step and feeds the drop-off lists;
//   - FunnelCount rollup counters keyed by the tenant's signup day (its
//     cohort) and plan: one "step:<milestone>" counter per step, an
//     "activated" counter for first queries within the activation window of
//     the signup, and "dur:<previous>-><milestone>" histograms of the time
//     between consecutive steps (see BucketBounds).
//
// Compute answers the activationFunnel query from the counters (exact
// counts, histogram percentiles with 10% resolution) and the Activation
// table's partial indexes (the oldest stuck tenants of each step), so its
// cost depends on the number of days asked for, not on the number of
// tenants. Rebuild recomputes every counter from the Activation table;
// Compact merges the slots of past days' counters (run it periodically).
//
// Every function here reads and writes as tenantd itself
// (tenantd.SystemContext): callers authorize their caller first.
package analytics

import (
	"fmt"
	"io"
	"strconv"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/milestone"
)

// Milestone is a step of the activation funnel, as stored: the values of the
// ent field milestone.Name.
type Milestone string

// The milestones, in funnel order.
const (
	SignedUp    Milestone = Milestone(milestone.NameSignedUp)
	Provisioned Milestone = Milestone(milestone.NameProvisioned)
	FirstUpload Milestone = Milestone(milestone.NameFirstUpload)
	FirstQuery  Milestone = Milestone(milestone.NameFirstQuery)
)

// Milestones lists the milestones in funnel order.
var Milestones = []Milestone{SignedUp, Provisioned, FirstUpload, FirstQuery}

// index returns m's position in Milestones, or -1 for an unknown milestone.
func (m Milestone) index() int {
	for i, s := range Milestones {
		if s == m {
			return i
		}
	}
	return -1
}

// Valid reports whether m is one of the four milestones.
func (m Milestone) Valid() bool { return m.index() >= 0 }

// Previous returns the milestone before m in the funnel; false for SignedUp
// and unknown milestones.
func (m Milestone) Previous() (Milestone, bool) {
	if i := m.index(); i > 0 {
		return Milestones[i-1], true
	}
	return "", false
}

// Name returns m's GraphQL name ("" for an unknown milestone).
func (m Milestone) Name() MilestoneName {
	if i := m.index(); i >= 0 {
		return milestoneNames[i]
	}
	return ""
}

// MilestoneName is a milestone as the GraphQL enum MilestoneName spells it.
type MilestoneName string

// The milestone names of the GraphQL enum.
const (
	NameSignedUp    MilestoneName = "SIGNED_UP"
	NameProvisioned MilestoneName = "PROVISIONED"
	NameFirstUpload MilestoneName = "FIRST_UPLOAD"
	NameFirstQuery  MilestoneName = "FIRST_QUERY"
)

// milestoneNames is Milestones in GraphQL spelling.
var milestoneNames = []MilestoneName{NameSignedUp, NameProvisioned, NameFirstUpload, NameFirstQuery}

// Values lists the legal names.
func (MilestoneName) Values() []string { return enumStrings(milestoneNames) }

// Milestone returns the stored milestone of n ("" for an unknown name).
func (n MilestoneName) Milestone() Milestone {
	for i, s := range milestoneNames {
		if s == n {
			return Milestones[i]
		}
	}
	return ""
}

// MarshalGQL implements graphql.Marshaler.
func (n MilestoneName) MarshalGQL(w io.Writer) { marshalEnum(w, string(n)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (n *MilestoneName) UnmarshalGQL(v any) (err error) {
	*n, err = unmarshalEnum[MilestoneName](v, "MilestoneName")
	return
}

// Cohort is how the funnel groups tenants by signup date: the GraphQL enum
// Cohort.
type Cohort string

// The cohort sizes.
const (
	// CohortDay groups tenants by UTC signup day.
	CohortDay Cohort = "DAY"
	// CohortWeek groups tenants by ISO week (Monday 00:00 UTC start).
	CohortWeek Cohort = "WEEK"
)

// Values lists the legal cohorts.
func (Cohort) Values() []string { return []string{string(CohortDay), string(CohortWeek)} }

// MarshalGQL implements graphql.Marshaler.
func (c Cohort) MarshalGQL(w io.Writer) { marshalEnum(w, string(c)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (c *Cohort) UnmarshalGQL(v any) (err error) {
	*c, err = unmarshalEnum[Cohort](v, "Cohort")
	return
}

// enumValue is the constraint of the string enums above, as in tenantd.
type enumValue interface {
	~string
	Values() []string
}

func unmarshalEnum[T enumValue](v any, name string) (T, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string, got %T", name, v)
	}
	for _, ok := range T("").Values() {
		if ok == s {
			return T(s), nil
		}
	}
	return "", tenantd.Invalid(name, "%q is not a %s; expected one of %v", s, name, T("").Values())
}

func marshalEnum(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
