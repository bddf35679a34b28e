package graph

import (
	"context"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/analytics"
)

const (
	// maxPage caps first/last of every connection and the ids of nodes.
	maxPage = 100
	// defaultPageSize is the page size of a connection asked without
	// first or last: never "everything".
	defaultPageSize = 20
)

// defaultPage fills in first when neither first nor last is given.
func defaultPage(first, last *int) *int {
	if first == nil && last == nil {
		n := defaultPageSize
		return &n
	}
	return first
}

func pageTooLarge(arg string, n int) error {
	return tenantd.Invalid(arg, "%s is %d; the most one request may ask for is %d", arg, n, maxPage)
}

// pageCost is the number of items a connection field may return.
func pageCost(first, last *int) int {
	switch {
	case first != nil:
		return max(*first, 1)
	case last != nil:
		return max(*last, 1)
	default:
		return defaultPageSize
	}
}

// Costs of fields whose resolvers do real work. A field costs 1 unless set
// here; the limit is maxComplexity (1,000) per operation.
const (
	// contentCost is what a document's content costs: it may be megabytes
	// (the answer's text is capped by ContentBudget too).
	contentCost = 25
	// searchCost is a full-text search, before its hits.
	searchCost = 20
	// funnelCost is an activation funnel: several rollup reads.
	funnelCost = 50
	// readinessRunCost is a run of the readiness checks: a synthetic signup
	// end to end. One per request.
	readinessRunCost = 500
	// usageCost is a workspace's usage: a read where its data lives (an
	// SQLite silo file is opened for it).
	usageCost = 5
	// mutationCost is a lifecycle mutation: a transaction.
	mutationCost = 10
	// providerCallCost is a field read from the billing provider (a call
	// over the network to Stripe): at most 10 in one request.
	providerCallCost = 100
)

// setComplexity makes a connection cost its page size times the cost of
// one item, so a query's complexity approximates the rows it reads, and gives
// fields with costly resolvers their cost.
func setComplexity(c *ComplexityRoot) {
	c.Document.Content = func(int) int { return contentCost }
	c.Tenant.BillingPeriodEnd = func(int) int { return providerCallCost }
	c.Query.Documents = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int) int {
		return 1 + pageCost(first, last)*child
	}
	c.Query.SearchDocuments = func(child int, _ string, first *int) int {
		n := 10
		if first != nil {
			n = max(*first, 1)
		}
		return searchCost + n*child
	}
	c.Query.ActivationFunnel = func(child int, _, _ *time.Time, _ *string, _ *analytics.Cohort, dropOffLimit *int, _ *bool) int {
		n := 20
		if dropOffLimit != nil {
			n = max(*dropOffLimit, 1)
		}
		return funnelCost + child + n
	}
	c.Query.ProvisioningDurations = func(child int, last *int, _ *bool) int {
		n := 100
		if last != nil {
			n = max(*last, 1)
		}
		return 5 + n/10 + child
	}
	c.Query.Readiness = func(child int) int { return 5 + child }
	c.Query.TenantStateCounts = func(child int, _ *bool) int { return 5 + child }
	c.Mutation.RunReadinessChecks = func(child int) int { return readinessRunCost + child }
	c.Tenant.Usage = func(child int) int { return usageCost + child }
	c.Mutation.SignUp = func(child int, _ SignUpInput) int { return 5*mutationCost + child }
	c.Mutation.UploadDocument = func(child int, _ UploadDocumentInput) int { return 2*mutationCost + child }
	for _, f := range []*func(int, TenantTransitionInput) int{
		&c.Mutation.SuspendTenant, &c.Mutation.ResumeTenant, &c.Mutation.RetryProvisioning,
	} {
		*f = func(child int, _ TenantTransitionInput) int { return mutationCost + child }
	}
	c.Mutation.CancelSubscription = func(child int, _ CancelSubscriptionInput) int { return mutationCost + child }
	c.Mutation.UndoCancellation = func(child int, _ UndoCancellationInput) int { return mutationCost + child }
	c.Mutation.PauseSubscription = func(child int, _ PauseSubscriptionInput) int { return mutationCost + child }
	c.Mutation.ReactivateTenant = func(child int, _ ReactivateTenantInput) int { return mutationCost + child }
	c.Mutation.RequestTenantDeletion = func(child int, _ RequestTenantDeletionInput) int { return mutationCost + child }
	c.Mutation.RestoreTenant = func(child int, _ RestoreTenantInput) int { return mutationCost + child }
	c.Mutation.PurgeTenant = func(child int, _ PurgeTenantInput) int { return mutationCost + child }
	c.Mutation.CreateWinBackCampaign = func(child int, _ CreateWinBackCampaignInput) int { return mutationCost + child }
	c.Mutation.PauseWinBackCampaign = func(child int, _ PauseWinBackCampaignInput) int { return mutationCost + child }
	c.Query.WinBackCampaigns = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.WinBackCampaignOrder, _ *ent.WinBackCampaignWhereInput) int {
		return 1 + pageCost(first, last)*child
	}
	c.Mutation.RequestDataExport = func(child int, _ RequestDataExportInput) int { return 2*mutationCost + child }
	c.Mutation.ImportTenant = func(child int, _ ImportTenantInput) int { return readinessRunCost + child }
	c.Tenant.Exports = func(child int) int { return 5 + 10*child }
	c.Mutation.CreateAPIKey = func(child int, _ CreateAPIKeyInput) int { return mutationCost + child }
	c.Mutation.RevokeAPIKey = func(child int, _ RevokeAPIKeyInput) int { return mutationCost + child }
	c.Query.Tenants = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.TenantOrder, _ *ent.TenantWhereInput) int {
		return 1 + pageCost(first, last)*child
	}
	c.Query.Nodes = func(child int, ids []uuid.UUID) int { return 1 + max(len(ids), 1)*child }
	c.Tenant.Transitions = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.StateTransitionOrder, _ *ent.StateTransitionWhereInput) int {
		return 1 + pageCost(first, last)*child
	}
	c.Tenant.Operations = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.OperationOrder, _ *ent.OperationWhereInput) int {
		return 1 + pageCost(first, last)*child
	}
	c.Tenant.APIKeys = func(child int, _ *entgql.Cursor[uuid.UUID], first *int, _ *entgql.Cursor[uuid.UUID], last *int, _ *ent.APIKeyOrder, _ *ent.APIKeyWhereInput) int {
		return 1 + pageCost(first, last)*child
	}
}

// Limits rejects, before anything runs, operations nested deeper than
// MaxDepth and connection arguments first/last outside 0..maxPage. gqlgen
// has no depth limit of its own.
type Limits struct {
	MaxDepth int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Limits{}

// ExtensionName implements graphql.HandlerExtension.
func (Limits) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension.
func (l Limits) Validate(graphql.ExecutableSchema) error {
	if l.MaxDepth < 1 {
		return fmt.Errorf("limits: MaxDepth must be positive")
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (l Limits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	return l.walk(oc, oc.Operation.SelectionSet, 1, l.MaxDepth)
}

// IntrospectionDepth is the depth limit of a __schema or __type field and
// what it selects (they answer only in development): the introspection
// query of graphql-js, which GraphiQL and code generators send, follows a
// type's ofType chain eleven levels deep.
const IntrospectionDepth = 16

func (l Limits) walk(oc *graphql.OperationContext, set ast.SelectionSet, depth, maxDepth int) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			limit := maxDepth
			if s.Name == "__schema" || s.Name == "__type" {
				limit = max(maxDepth, IntrospectionDepth)
			}
			if len(s.SelectionSet) > 0 && depth >= limit {
				return limitError(fmt.Sprintf("the query nests deeper than %d levels (at %q); split it into smaller queries", limit, s.Name), "")
			}
			if err := checkPageArgs(oc, s); err != nil {
				return err
			}
			if err := l.walk(oc, s.SelectionSet, depth+1, limit); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := l.walk(oc, s.SelectionSet, depth, maxDepth); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if s.Definition != nil {
				if err := l.walk(oc, s.Definition.SelectionSet, depth, maxDepth); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkPageArgs(oc *graphql.OperationContext, f *ast.Field) *gqlerror.Error {
	if f.Definition == nil {
		return nil
	}
	args := f.ArgumentMap(oc.Variables)
	for _, name := range []string{"first", "last"} {
		v, ok := args[name]
		if !ok || v == nil {
			continue
		}
		n, ok := asInt(v)
		if !ok {
			continue
		}
		if n < 0 {
			return limitError(fmt.Sprintf("%s on %q is %d; it must not be negative", name, f.Name, n), name)
		}
		if n > maxPage {
			return limitError(fmt.Sprintf("%s on %q is %d; the largest page is %d — page with after/before", name, f.Name, n, maxPage), name)
		}
	}
	return nil
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case interface{ Int64() (int64, error) }: // json.Number
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

func limitError(msg, field string) *gqlerror.Error {
	ext := map[string]any{"code": tenantd.EINVALID}
	if field != "" {
		ext["field"] = field
	}
	return &gqlerror.Error{Message: msg, Extensions: ext}
}
