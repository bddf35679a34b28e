package graph

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/tenantd/tenantd"
)

// A tenant key sees what is about its tenant and what it may do, not how
// tenantd or its operators are set up. tenantView tells the resolvers of
// audit names and details when to say less: the caller is a tenant key.
func tenantView(ctx context.Context) bool {
	v, ok := tenantd.ViewerFrom(ctx)
	return ok && v.Role == tenantd.RoleTenant
}

// Role words a tenant sees in place of the audit trail's actor names.
const (
	actorAdmin   = "admin"
	actorPartner = "partner"
	actorSystem  = "system"
)

// actorFor is how the caller sees an actor name of the audit trail
// ("admin:tda_1a2b3c4d", "key:tdk_…", "worker:provisioning"). Operators see
// it as it is. A tenant key sees the customer's own actors as they are
// (its API keys, "public:signup") and everyone else by role: an operator's
// token prefix is not the customer's to know.
func actorFor(ctx context.Context, actor string) string {
	if !tenantView(ctx) {
		return actor
	}
	switch {
	case strings.HasPrefix(actor, "key:"), strings.HasPrefix(actor, "public:"):
		return actor
	case strings.HasPrefix(actor, "admin:"):
		return actorAdmin
	case strings.HasPrefix(actor, "partner:"):
		return actorPartner
	}
	return actorSystem
}

// transitionActorFor is actorFor for a transition, which also says who
// triggered it: an ADMIN-triggered one is an operator's whatever its name.
func transitionActorFor(ctx context.Context, actor string, by tenantd.Trigger) string {
	if !tenantView(ctx) {
		return actor
	}
	switch by {
	case tenantd.TriggerAdmin:
		if strings.HasPrefix(actor, "partner:") {
			return actorPartner
		}
		return actorAdmin
	case tenantd.TriggerSystem:
		return actorSystem
	}
	return actorFor(ctx, actor)
}

// serverPath matches a file path in a text: an absolute path, or a relative
// one of two or more parts ending in a file name with an extension
// (data/workspaces/<id>.db). URLs match too, first, so that they are kept
// whole: a link is meant for the reader.
var serverPath = regexp.MustCompile(`[a-z][a-z0-9+.-]*://\S+|(?:[A-Za-z]:)?(?:/[\w.+@-]+){2,}/?|(?:[\w.+@-]+/)+[\w+@-]+\.[A-Za-z0-9]{1,8}\b`)

// scrubFor removes server file paths from a text the caller will read when
// the caller is a tenant key (operators see it whole). Details written
// today hold none; older ones (a workspace's file) and error messages might.
func scrubFor(ctx context.Context, s string) string {
	if !tenantView(ctx) {
		return s
	}
	return serverPath.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "://") {
			return m
		}
		return "(server path)"
	})
}

// actorKeys are the keys of JSON objects (transition metadata, operation
// params) whose values are actor names.
var actorKeys = map[string]bool{"actor": true, "requestedBy": true}

// scrubMapFor is how a tenant key sees a JSON object of tenantd's (a
// transition's metadata, an operation's params or result): actor names by
// role (actorFor) and every other string without server paths (scrubFor).
// Operators see it whole.
func scrubMapFor(ctx context.Context, m map[string]any) map[string]any {
	if m == nil || !tenantView(ctx) {
		return m
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case string:
			if actorKeys[key] {
				return actorFor(ctx, x)
			}
			return scrubFor(ctx, x)
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(k, e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(key, e)
			}
			return out
		}
		return v
	}
	return walk("", m).(map[string]any)
}

// hiddenFilter refuses, for a tenant key, a where input that filters on a
// field the tenant sees by role only (field is the JSON name of the field,
// its predicates are field, fieldNEQ, fieldHasPrefix…, at any depth of
// and/or/not): filtering by an operator's token prefix would spell it out.
func hiddenFilter(ctx context.Context, where any, field, arg string) error {
	if where == nil || !tenantView(ctx) {
		return nil
	}
	b, err := json.Marshal(where)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return err
	}
	var names func(v any) bool
	names = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.HasPrefix(k, field) || names(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if names(e) {
					return true
				}
			}
		}
		return false
	}
	if names(tree) {
		return tenantd.Invalid(arg, "a tenant key cannot filter by %s: operators appear by role to a tenant; filter by another field", field)
	}
	return nil
}
