package readiness

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/provisioning"
)

// synth is the synthetic tenant of a run.
type synth struct {
	tenantID, operationID uuid.UUID
	active                bool
}

// signupEndToEnd signs a synthetic tenant up through the real path and waits
// until it is ACTIVE with its confirmation email queued.
func (c *Checker) signupEndToEnd(ctx context.Context) (*synth, *result) {
	slug := fmt.Sprintf("readiness-%d-%s", time.Now().Unix(), uuid.NewString()[:6])
	ev := map[string]any{"plan": syntheticPlan, "paymentMethod": syntheticPayment, "limitMs": c.Limit.Milliseconds()}
	t0 := time.Now() // a measurement: the real time, not the clock of the rules
	res, err := c.provisioning.SignUp(ctx, provisioning.SignUpInput{
		Name: "Readiness check", Slug: slug, Email: "readiness+" + slug + "@" + syntheticDomain,
		Plan: syntheticPlan, PaymentMethod: syntheticPayment, IdempotencyKey: uuid.NewString(), Synthetic: true,
	})
	if err != nil {
		ev["error"] = tenantd.ErrorMessage(err)
		ev["code"] = tenantd.ErrorCode(err)
		return nil, &result{status: statusFail, summary: "the synthetic signup failed: " + tenantd.ErrorMessage(err), evidence: ev}
	}
	s := &synth{tenantID: res.TenantID, operationID: res.OperationID}
	ev["tenantId"], ev["operationId"], ev["signupMs"] = res.TenantID.String(), res.OperationID.String(), time.Since(t0).Milliseconds()
	sys := tenantd.SystemContext(ctx)
	deadline := t0.Add(c.Limit)
	var state tenantd.State
	for {
		t, err := c.db.Ent.Tenant.Get(sys, res.TenantID)
		if err != nil {
			ev["error"] = err.Error()
			return s, &result{status: statusFail, summary: "the synthetic tenant could not be read", evidence: ev}
		}
		state = t.State
		queued, _ := c.db.Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(res.TenantID)).Exist(sys)
		if state == tenantd.StateActive && queued {
			s.active = true
			ev["activeMs"] = time.Since(t0).Milliseconds()
			return s, &result{status: statusPass, evidence: ev,
				summary: fmt.Sprintf("signed up, ACTIVE and confirmation queued in %d ms (limit %s)", time.Since(t0).Milliseconds(), c.Limit)}
		}
		if state == tenantd.StateProvisioningFailed || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			ev["error"] = ctx.Err().Error()
			return s, &result{status: statusFail, summary: "interrupted", evidence: ev}
		case <-time.After(pollInterval):
		}
	}
	ev["state"] = string(state)
	op, err := c.db.Ent.Operation.Get(sys, res.OperationID)
	if err == nil {
		ev["operationStatus"] = string(op.Status)
		ev["steps"] = op.Steps
		if op.ErrorMessage != nil {
			ev["operationError"] = *op.ErrorMessage
		}
	}
	return s, &result{status: statusFail, evidence: ev,
		summary: fmt.Sprintf("the synthetic tenant is %s after %s, not ACTIVE with its email queued", state, time.Since(t0).Round(time.Millisecond))}
}

// provisioningSpeed judges recent PROVISION durations and what is in flight;
// the synthetic signup of this run not finishing within the limit is a stall.
func (c *Checker) provisioningSpeed(ctx context.Context, s *synth) *result {
	// Synthetic tenants count here: this check judges the provisioning path,
	// which this run's own synthetic signup has just taken.
	d, err := provisioning.RecentDurations(ctx, c.db.Ent, defaultRecentOps, c.machine.Now(), true)
	if err != nil {
		return &result{status: statusFail, summary: "could not read provisioning durations: " + err.Error(), evidence: map[string]any{}}
	}
	limit := int(c.Limit.Milliseconds())
	ev := map[string]any{"count": d.Count, "p50Ms": d.P50Ms, "p95Ms": d.P95Ms, "maxMs": d.MaxMs,
		"inFlight": d.InFlight, "oldestInFlightMs": d.OldestInFlightMs, "limitMs": limit}
	var syntheticStalled bool
	if s != nil && !s.active {
		if op, err := c.db.Ent.Operation.Get(tenantd.SystemContext(ctx), s.operationID); err == nil && !op.Status.Done() {
			syntheticStalled = true
			ev["syntheticOperationStatus"] = string(op.Status)
		}
	}
	switch {
	case syntheticStalled:
		return &result{status: statusFail, evidence: ev, summary: fmt.Sprintf(
			"provisioning is stalled: the synthetic signup's operation is still not done after %s; %d operation(s) in flight", c.Limit, d.InFlight)}
	case d.OldestInFlightMs != nil && *d.OldestInFlightMs > limit:
		return &result{status: statusFail, evidence: ev, summary: fmt.Sprintf(
			"provisioning is stalled: %d operation(s) in flight, the oldest for %s (limit %s)", d.InFlight,
			time.Duration(*d.OldestInFlightMs)*time.Millisecond, c.Limit)}
	case d.Count == 0:
		return &result{status: statusWarn, evidence: ev, summary: "no provisioning has finished yet"}
	case *d.P95Ms > limit:
		return &result{status: statusFail, evidence: ev, summary: fmt.Sprintf("p95 %d ms is over the %s limit", *d.P95Ms, c.Limit)}
	case *d.MaxMs > limit:
		return &result{status: statusWarn, evidence: ev, summary: fmt.Sprintf("p95 %d ms, but the slowest took %d ms (limit %s)", *d.P95Ms, *d.MaxMs, c.Limit)}
	}
	return &result{status: statusPass, evidence: ev, summary: fmt.Sprintf(
		"last %d provisionings: p50 %d ms, p95 %d ms, max %d ms (limit %s)", d.Count, *d.P50Ms, *d.P95Ms, *d.MaxMs, c.Limit)}
}

// funnelTracked checks that every milestone flows (in the last 30 days) and
// compares the activation rate with the 70% target.
func (c *Checker) funnelTracked(ctx context.Context) *result {
	to := c.machine.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)
	f, err := analytics.Compute(tenantd.SystemContext(ctx), c.db.Ent, analytics.Query{
		From: to.Add(-funnelWindowDays * 24 * time.Hour), To: to, Cohort: analytics.CohortDay}, c.window)
	if err != nil {
		return &result{status: statusFail, summary: "could not compute the funnel: " + err.Error(), evidence: map[string]any{}}
	}
	counts := map[string]any{}
	var missing []string
	for _, st := range f.Steps {
		counts[string(st.Name)] = st.Count
		if st.Count == 0 {
			missing = append(missing, string(st.Name))
		}
	}
	ev := map[string]any{"days": funnelWindowDays, "steps": counts, "activationRate": f.ActivationRate,
		"target": activationTarget, "activationWindowHours": f.ActivationWindowHours}
	switch {
	case len(missing) == len(f.Steps):
		return &result{status: statusWarn, evidence: ev, summary: fmt.Sprintf("no signups in the last %d days: nothing to track yet", funnelWindowDays)}
	case len(missing) > 0:
		return &result{status: statusFail, evidence: ev, summary: fmt.Sprintf(
			"milestones are not flowing: no tenant reached %v in the last %d days", missing, funnelWindowDays)}
	case f.ActivationRate < activationTarget:
		return &result{status: statusWarn, evidence: ev, summary: fmt.Sprintf(
			"every milestone is tracked; activation rate %s is below the %.0f%% target", activationWords(f), activationTarget*100)}
	}
	return &result{status: statusPass, evidence: ev, summary: fmt.Sprintf(
		"every milestone is tracked; activation rate %s meets the %.0f%% target", activationWords(f), activationTarget*100)}
}

// activationWords says the rate with what it counts, so it reads right next
// to a funnel of another window: "4.5% (9 of 200 signups of the last 30
// days)". One decimal below 10%, as the console rounds.
func activationWords(f *analytics.Funnel) string {
	signedUp := 0
	if len(f.Steps) > 0 {
		signedUp = f.Steps[0].Count
	}
	pct := fmt.Sprintf("%.0f%%", f.ActivationRate*100)
	if f.ActivationRate < 0.1 {
		pct = fmt.Sprintf("%.1f%%", f.ActivationRate*100)
	}
	return fmt.Sprintf("%s (%d of %d signups of the last %d days)", pct, f.Activated, signedUp, funnelWindowDays)
}

// idempotentProvisioning runs provisioning again on the synthetic tenant and
// checks that it created nothing.
func (c *Checker) idempotentProvisioning(ctx context.Context, s *synth) *result {
	if s == nil || !s.active {
		return &result{status: statusFail, evidence: map[string]any{},
			summary: "needs the ACTIVE synthetic tenant of the signup check, which did not get there"}
	}
	before, err := c.footprint(ctx, s.tenantID)
	if err != nil {
		return &result{status: statusFail, summary: err.Error(), evidence: map[string]any{}}
	}
	if err := c.Rerun(ctx, s.operationID); err != nil {
		return &result{status: statusFail, summary: "running provisioning again failed: " + tenantd.ErrorMessage(err),
			evidence: map[string]any{"before": before, "error": err.Error()}}
	}
	after, err := c.footprint(ctx, s.tenantID)
	if err != nil {
		return &result{status: statusFail, summary: err.Error(), evidence: map[string]any{}}
	}
	ev := map[string]any{"before": before, "after": after, "tenantId": s.tenantID.String()}
	var changed []string
	for k, v := range before {
		if after[k] != v {
			changed = append(changed, fmt.Sprintf("%s %d → %d", k, v, after[k]))
		}
	}
	if len(changed) > 0 {
		ev["changed"] = changed
		return &result{status: statusFail, evidence: ev, summary: fmt.Sprintf("provisioning again created something: %v", changed)}
	}
	return &result{status: statusPass, evidence: ev,
		summary: "provisioning run again created nothing: one workspace, one key set, one email, one API key, no new transition"}
}

// footprint counts what provisioning makes for a tenant.
func (c *Checker) footprint(ctx context.Context, id uuid.UUID) (map[string]int, error) {
	sys := tenantd.SystemContext(ctx)
	fp := map[string]int{}
	var err error
	count := func(name string, f func() (int, error)) {
		if err == nil {
			fp[name], err = f()
		}
	}
	count("workspaces", func() (int, error) { return c.db.Ent.Workspace.Query().Where(workspace.TenantID(id)).Count(sys) })
	count("keySets", func() (int, error) { return c.db.Ent.KeySet.Query().Where(keyset.TenantID(id)).Count(sys) })
	count("emails", func() (int, error) {
		return c.db.Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id)).Count(sys)
	})
	count("apiKeys", func() (int, error) { return c.db.Ent.APIKey.Query().Where(apikey.TenantID(id)).Count(sys) })
	count("transitions", func() (int, error) {
		return c.db.Ent.StateTransition.Query().Where(statetransition.TenantID(id)).Count(sys)
	})
	count("siloStores", func() (int, error) { return c.siloStores(ctx, id) })
	if err != nil {
		return nil, fmt.Errorf("count what provisioning made: %w", err)
	}
	return fp, nil
}

// siloStores counts the tenant's silo schemas (PostgreSQL) or files (SQLite).
func (c *Checker) siloStores(ctx context.Context, id uuid.UUID) (int, error) {
	ws, err := c.db.Ent.Workspace.Query().Where(workspace.TenantID(id)).All(tenantd.SystemContext(ctx))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range ws {
		if w.Isolation != tenantd.IsolationSilo {
			continue
		}
		if c.db.IsPostgres() {
			var k int
			if err := c.db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", w.Location).Scan(&k); err != nil && err != sql.ErrNoRows {
				return 0, err
			}
			n += k
		} else if _, err := os.Stat(w.Location); err == nil {
			n++
		}
	}
	return n, nil
}
