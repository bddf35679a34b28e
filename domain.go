package tenantd

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// enumValue is the constraint of the string enums below: each knows its
// legal values, which ent uses for the column check and GraphQL for the enum.
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
	return "", Invalid(name, "%q is not a %s; expected one of %v", s, name, T("").Values())
}

func marshalEnum(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

// State is a tenant's lifecycle state (DESIGN.md, "The tenant state machine").
type State string

// The tenant states.
const (
	StatePending            State = "PENDING"
	StateProvisioning       State = "PROVISIONING"
	StateProvisioningFailed State = "PROVISIONING_FAILED"
	StateActive             State = "ACTIVE"
	StateSuspended          State = "SUSPENDED"
	StateCanceled           State = "CANCELED"
	StatePendingDeletion    State = "PENDING_DELETION"
	StatePurged             State = "PURGED"
)

// AllStates lists every tenant state in lifecycle order.
var AllStates = []State{
	StatePending, StateProvisioning, StateProvisioningFailed, StateActive,
	StateSuspended, StateCanceled, StatePendingDeletion, StatePurged,
}

// Values implements ent's EnumValues.
func (State) Values() []string { return enumStrings(AllStates) }

// MarshalGQL implements graphql.Marshaler.
func (s State) MarshalGQL(w io.Writer) { marshalEnum(w, string(s)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *State) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum[State](v, "TenantState")
	return
}

// Event is a lifecycle event: the name of a transition.
type Event string

// The lifecycle events.
const (
	EventSignup          Event = "signup"
	EventProvision       Event = "provision"
	EventActivate        Event = "activate"
	EventFail            Event = "fail"
	EventSuspend         Event = "suspend"
	EventResume          Event = "resume"
	EventCancel          Event = "cancel"
	EventReactivate      Event = "reactivate"
	EventRequestDeletion Event = "request_deletion"
	EventRestore         Event = "restore"
	EventPurge           Event = "purge"
	EventChangePlan      Event = "change_plan"
)

// AllEvents lists every lifecycle event.
var AllEvents = []Event{
	EventSignup, EventProvision, EventActivate, EventFail, EventSuspend, EventResume,
	EventCancel, EventReactivate, EventRequestDeletion, EventRestore, EventPurge, EventChangePlan,
}

// Values implements ent's EnumValues.
func (Event) Values() []string { return enumStrings(AllEvents) }

// MarshalGQL implements graphql.Marshaler. The GraphQL enum keeps the
// design's lower-case event names.
func (e Event) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (e *Event) UnmarshalGQL(v any) (err error) {
	*e, err = unmarshalEnum[Event](v, "LifecycleEvent")
	return
}

// Trigger says who caused a transition.
type Trigger string

// The triggers.
const (
	TriggerUser   Trigger = "USER"
	TriggerSystem Trigger = "SYSTEM"
	TriggerAdmin  Trigger = "ADMIN"
)

// Values implements ent's EnumValues.
func (Trigger) Values() []string { return []string{"USER", "SYSTEM", "ADMIN"} }

// MarshalGQL implements graphql.Marshaler.
func (t Trigger) MarshalGQL(w io.Writer) { marshalEnum(w, string(t)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (t *Trigger) UnmarshalGQL(v any) (err error) {
	*t, err = unmarshalEnum[Trigger](v, "TriggeredBy")
	return
}

// OperationKind names a long-running action.
type OperationKind string

// The operation kinds.
const (
	OpProvision  OperationKind = "PROVISION"
	OpChangePlan OperationKind = "CHANGE_PLAN"
	OpExport     OperationKind = "EXPORT"
	OpDelete     OperationKind = "DELETE"
	OpRestore    OperationKind = "RESTORE"
	OpPurge      OperationKind = "PURGE"
	OpReactivate OperationKind = "REACTIVATE"
	// OpCancel tells the billing provider about a cancellation (not in
	// DESIGN.md's list: a cancel has a billing meaning, so it is an
	// operation too).
	OpCancel OperationKind = "CANCEL"
	// OpPause and OpResume pause and resume billing with a tenant's pause
	// (its suspension on request) and its end.
	OpPause  OperationKind = "PAUSE"
	OpResume OperationKind = "RESUME"
)

// Values implements ent's EnumValues.
func (OperationKind) Values() []string {
	return []string{"PROVISION", "CHANGE_PLAN", "EXPORT", "DELETE", "RESTORE", "PURGE", "REACTIVATE", "CANCEL", "PAUSE", "RESUME"}
}

// MarshalGQL implements graphql.Marshaler.
func (k OperationKind) MarshalGQL(w io.Writer) { marshalEnum(w, string(k)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (k *OperationKind) UnmarshalGQL(v any) (err error) {
	*k, err = unmarshalEnum[OperationKind](v, "OperationKind")
	return
}

// OperationStatus is where an operation stands.
type OperationStatus string

// The operation statuses.
const (
	OpQueued    OperationStatus = "QUEUED"
	OpRunning   OperationStatus = "RUNNING"
	OpSucceeded OperationStatus = "SUCCEEDED"
	OpFailed    OperationStatus = "FAILED"
	OpCanceled  OperationStatus = "CANCELED"
)

// Values implements ent's EnumValues.
func (OperationStatus) Values() []string {
	return []string{"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"}
}

// Done reports whether the status is final.
func (s OperationStatus) Done() bool { return s == OpSucceeded || s == OpFailed || s == OpCanceled }

// MarshalGQL implements graphql.Marshaler.
func (s OperationStatus) MarshalGQL(w io.Writer) { marshalEnum(w, string(s)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *OperationStatus) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum[OperationStatus](v, "OperationStatus")
	return
}

// StepStatus is where one step of an operation stands.
type StepStatus string

// The step statuses.
const (
	StepPending   StepStatus = "PENDING"
	StepRunning   StepStatus = "RUNNING"
	StepSucceeded StepStatus = "SUCCEEDED"
	StepFailed    StepStatus = "FAILED"
	StepSkipped   StepStatus = "SKIPPED"
)

// Values lists the legal step statuses.
func (StepStatus) Values() []string {
	return []string{"PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED"}
}

// MarshalGQL implements graphql.Marshaler.
func (s StepStatus) MarshalGQL(w io.Writer) { marshalEnum(w, string(s)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *StepStatus) UnmarshalGQL(v any) (err error) {
	*s, err = unmarshalEnum[StepStatus](v, "StepStatus")
	return
}

// OperationStep is one ordered step of an operation, checkpointed by its
// worker so that a retry resumes at the first unfinished step.
type OperationStep struct {
	Name       string     `json:"name"`
	Status     StepStatus `json:"status"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Detail     string     `json:"detail,omitempty"`
}

// Isolation is how a plan keeps tenant data apart.
type Isolation string

// The isolation levels.
const (
	IsolationPool Isolation = "POOL"
	IsolationSilo Isolation = "SILO"
)

// Values implements ent's EnumValues.
func (Isolation) Values() []string { return []string{"POOL", "SILO"} }

// MarshalGQL implements graphql.Marshaler.
func (i Isolation) MarshalGQL(w io.Writer) { marshalEnum(w, string(i)) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (i *Isolation) UnmarshalGQL(v any) (err error) {
	*i, err = unmarshalEnum[Isolation](v, "Isolation")
	return
}

func enumStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// WinBackStep is one mail of a win-back campaign: sent AfterDays after a
// tenant's cancellation, from plain-text templates with named placeholders.
type WinBackStep struct {
	AfterDays int    `json:"afterDays"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
}

// WinBackSegment is which canceled tenants a win-back campaign mails: those
// canceled within the last CanceledWithinDays days, on one of Plans and
// with one of Feedback (empty: any).
//
// A nudge campaign's segment is a funnel step instead: StuckAt
// ("provisioned" or "first_upload", the milestone reached) and ForHours
// (how long a tenant has been stuck there before its first mail); its
// steps' AfterDays count from that moment.
type WinBackSegment struct {
	CanceledWithinDays int      `json:"canceledWithinDays,omitempty"`
	Plans              []string `json:"plans,omitempty"`
	Feedback           []string `json:"feedback,omitempty"`
	StuckAt            string   `json:"stuckAt,omitempty"`
	ForHours           int      `json:"forHours,omitempty"`
}

// Nudge reports whether the segment is a funnel step (an activation nudge)
// rather than canceled tenants.
func (s WinBackSegment) Nudge() bool { return s.StuckAt != "" }

// WinBackProgress is how far the sweep has gone through one step of a
// campaign: every tenant at or before the watermark (the anchor time — a
// cancellation or a milestone — and the row's id, in that order) has been
// considered for the step. Eligible counts those that matched the segment
// when the step came due, Skipped those among them that got no mail
// (unsubscribed, or out of the window).
type WinBackProgress struct {
	WatermarkAt time.Time `json:"watermarkAt"`
	WatermarkID uuid.UUID `json:"watermarkId"`
	Eligible    int       `json:"eligible"`
	Skipped     int       `json:"skipped"`
}
