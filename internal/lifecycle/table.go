package lifecycle

import (
	"slices"

	"github.com/tenantd/tenantd"
)

// Rule is one row of the transition table.
type Rule struct {
	Event tenantd.Event
	// From lists the states the event is legal in; empty for signup, which
	// creates the tenant.
	From []tenantd.State
	// To is the target state. RestoreTarget means "the state before
	// deletion"; for change_plan To equals the source (a self-transition).
	To tenantd.State
	// By lists who may cause the event.
	By []tenantd.Trigger
}

// RestoreTarget is the To of the restore rule: the tenant goes back to the
// state it was in when its deletion was requested.
const RestoreTarget tenantd.State = "(state before deletion)"

var (
	user   = tenantd.TriggerUser
	system = tenantd.TriggerSystem
	admin  = tenantd.TriggerAdmin
)

// Table is the whole tenant state machine of DESIGN.md, in its order.
var Table = []Rule{
	{Event: tenantd.EventSignup, To: tenantd.StatePending, By: []tenantd.Trigger{user}},
	{Event: tenantd.EventProvision, From: []tenantd.State{tenantd.StatePending, tenantd.StateProvisioningFailed},
		To: tenantd.StateProvisioning, By: []tenantd.Trigger{system, admin}},
	{Event: tenantd.EventActivate, From: []tenantd.State{tenantd.StateProvisioning},
		To: tenantd.StateActive, By: []tenantd.Trigger{system}},
	{Event: tenantd.EventFail, From: []tenantd.State{tenantd.StateProvisioning},
		To: tenantd.StateProvisioningFailed, By: []tenantd.Trigger{system}},
	{Event: tenantd.EventSuspend, From: []tenantd.State{tenantd.StateActive},
		To: tenantd.StateSuspended, By: []tenantd.Trigger{admin, system}},
	{Event: tenantd.EventResume, From: []tenantd.State{tenantd.StateSuspended},
		To: tenantd.StateActive, By: []tenantd.Trigger{admin, system}},
	{Event: tenantd.EventCancel, From: []tenantd.State{tenantd.StateActive, tenantd.StateSuspended},
		To: tenantd.StateCanceled, By: []tenantd.Trigger{user, admin, system}},
	{Event: tenantd.EventReactivate, From: []tenantd.State{tenantd.StateCanceled},
		To: tenantd.StateActive, By: []tenantd.Trigger{user, admin}},
	{Event: tenantd.EventRequestDeletion, From: []tenantd.State{tenantd.StateActive, tenantd.StateSuspended,
		tenantd.StateCanceled, tenantd.StateProvisioningFailed},
		To: tenantd.StatePendingDeletion, By: []tenantd.Trigger{user, admin}},
	{Event: tenantd.EventRestore, From: []tenantd.State{tenantd.StatePendingDeletion},
		To: RestoreTarget, By: []tenantd.Trigger{user, admin}},
	{Event: tenantd.EventPurge, From: []tenantd.State{tenantd.StatePendingDeletion},
		To: tenantd.StatePurged, By: []tenantd.Trigger{system, admin}},
	{Event: tenantd.EventChangePlan, From: []tenantd.State{tenantd.StateActive},
		To: tenantd.StateActive, By: []tenantd.Trigger{user, admin, system}},
}

// rule returns the rule of an event.
func rule(ev tenantd.Event) (Rule, bool) {
	for _, r := range Table {
		if r.Event == ev {
			return r, true
		}
	}
	return Rule{}, false
}

// AllowedEvents returns the events legal in state s, in table order.
func AllowedEvents(s tenantd.State) []tenantd.Event {
	var out []tenantd.Event
	for _, r := range Table {
		if slices.Contains(r.From, s) {
			out = append(out, r.Event)
		}
	}
	return out
}

// onBehalfOfUser are the events tenantd fires for a tenant that asks:
// pauseSubscription suspends (as the system, the history naming who asked).
var onBehalfOfUser = []tenantd.Event{tenantd.EventSuspend}

// AllowedEventsBy returns the events legal in state s that trigger by may
// cause (Rule.By, and for TriggerUser the events fired on its behalf), in
// table order: what a tenant key (TriggerUser) or an admin (TriggerAdmin)
// may fire. Signup, which creates the tenant, is never among them.
func AllowedEventsBy(s tenantd.State, by tenantd.Trigger) []tenantd.Event {
	out := []tenantd.Event{}
	for _, r := range Table {
		may := slices.Contains(r.By, by) || (by == tenantd.TriggerUser && slices.Contains(onBehalfOfUser, r.Event))
		if slices.Contains(r.From, s) && may {
			out = append(out, r.Event)
		}
	}
	return out
}

// AllowedEventsFor is what an INVALID_TRANSITION error lists to a caller
// of trigger by: a tenant (TriggerUser) the events it may fire itself
// (AllowedEventsBy), operators and tenantd every legal event.
func AllowedEventsFor(s tenantd.State, by tenantd.Trigger) []tenantd.Event {
	if by == tenantd.TriggerUser {
		return AllowedEventsBy(s, by)
	}
	return AllowedEvents(s)
}

// Legal reports whether ev may fire in state s.
func Legal(s tenantd.State, ev tenantd.Event) bool {
	r, ok := rule(ev)
	return ok && slices.Contains(r.From, s)
}

// Target returns where ev takes a tenant in state from. before is the state
// recorded when deletion was requested; only restore reads it.
func Target(from tenantd.State, ev tenantd.Event, before *tenantd.State) (tenantd.State, bool) {
	r, ok := rule(ev)
	if !ok || !slices.Contains(r.From, from) {
		return "", false
	}
	if r.To == RestoreTarget {
		if before == nil {
			return "", false
		}
		return *before, true
	}
	return r.To, true
}
