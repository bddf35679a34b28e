package graph

import (
	"context"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/planchange"
	"github.com/tenantd/tenantd/internal/plans"
)

// previewOf translates a plan change preview for the API.
func (r *Resolver) previewOf(ctx context.Context, p *planchange.Preview) (*PlanChangePreview, error) {
	sys := tenantd.SystemContext(ctx)
	from, err := plans.ByKey(sys, r.client(), p.FromPlan)
	if err != nil {
		return nil, err
	}
	to, err := plans.ByKey(sys, r.client(), p.ToPlan)
	if err != nil {
		return nil, err
	}
	out := &PlanChangePreview{
		From: from, To: to, Direction: PlanChangeDirection(p.Direction), Effective: PlanChangeEffective(p.Effective),
		EffectiveAt: p.EffectiveAt, AmountDueNowCents: p.AmountDueNowCents, ProrationCents: p.ProrationCents,
		MonthlyDifferenceCents: p.MonthlyDifferenceCents, Currency: p.Currency, PeriodEnd: p.PeriodEnd,
		DataMoves: p.DataMoves, FromIsolation: p.FromIsolation, ToIsolation: p.ToIsolation,
		DocumentsToMove: int(p.DocumentsToMove), BytesToMove: int(p.BytesToMove), Overages: []*PlanOverage{},
	}
	for _, o := range p.Overages {
		out.Overages = append(out.Overages, &PlanOverage{Quota: o.Quota, Limit: int(o.Limit), Usage: int(o.Usage)})
	}
	return out, nil
}

// scheduledOf translates a scheduled plan change for the API.
func (r *Resolver) scheduledOf(ctx context.Context, sc *planchange.Scheduled) (*ScheduledPlanChange, error) {
	if sc == nil {
		return nil, nil
	}
	p, err := plans.ByKey(tenantd.SystemContext(ctx), r.client(), sc.Plan)
	if err != nil {
		return nil, err
	}
	return &ScheduledPlanChange{Plan: p, EffectiveAt: sc.EffectiveAt, RequestedAt: sc.RequestedAt, RequestedBy: actorFor(ctx, sc.RequestedBy)}, nil
}

// scheduledPlanChange is Tenant.scheduledPlanChange.
func (r *Resolver) scheduledPlanChange(ctx context.Context, t *ent.Tenant) (*ScheduledPlanChange, error) {
	return r.scheduledOf(ctx, planchange.ScheduledOf(t))
}
