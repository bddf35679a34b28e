// Package readiness runs the four checks that prove tenantd is ready for
// lifecycle work, each PASS, WARN or FAIL with its evidence:
//
//  1. signup end to end: a synthetic signup through the real path with the
//     test payment method is ACTIVE with its email queued within the limit
//     (60 s), then purged;
//  2. provisioning speed: p50/p95/max of recent PROVISION operations and any
//     operation in flight, against the limit;
//  3. activation funnel tracked: every milestone flowing, the activation
//     rate against the 70% target;
//  4. idempotent provisioning: provisioning run again on the synthetic
//     tenant creates nothing.
package readiness

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/readinesscheck"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/provisioning"
	"github.com/tenantd/tenantd/internal/retention"
	"github.com/tenantd/tenantd/internal/store"
)

// The checks, in order.
const (
	CheckSignup      = "signup_end_to_end"
	CheckSpeed       = "provisioning_speed"
	CheckFunnel      = "activation_funnel"
	CheckIdempotent  = "idempotent_provisioning"
	statusPass       = "PASS"
	statusWarn       = "WARN"
	statusFail       = "FAIL"
	activationTarget = 0.7
	defaultLimit     = 60 * time.Second
	defaultRecentOps = 100
	funnelWindowDays = 30
	syntheticDomain  = "tenantd.invalid"
	syntheticPlan    = "pro" // a silo plan: the idempotency check counts its schema or file too
	syntheticPayment = "pm_card_visa"
	pollInterval     = 50 * time.Millisecond
)

// Titles of the checks, for people.
var Titles = map[string]string{
	CheckSignup:     "Signup end to end",
	CheckSpeed:      "Provisioning speed",
	CheckFunnel:     "Activation funnel tracked",
	CheckIdempotent: "Idempotent provisioning",
}

// Checker runs the checks.
type Checker struct {
	db           *store.DB
	machine      *lifecycle.Machine
	provisioning *provisioning.Service
	purger       *retention.Purger
	window       time.Duration
	log          *slog.Logger

	// Limit is the time a signup may take to ACTIVE with its email queued,
	// and the bound on provisioning durations (default 60 s).
	Limit time.Duration
	// Rerun runs provisioning again on the synthetic tenant for check 4
	// (default: provisioning's RerunSteps; tests replace it to show the check
	// catching a step that is not idempotent).
	Rerun func(ctx context.Context, opID uuid.UUID) error
}

// New returns a Checker.
func New(db *store.DB, machine *lifecycle.Machine, prov *provisioning.Service, purger *retention.Purger, window time.Duration, log *slog.Logger) *Checker {
	return &Checker{db: db, machine: machine, provisioning: prov, purger: purger, window: window, log: log,
		Limit: defaultLimit, Rerun: prov.RerunSteps}
}

func (c *Checker) machineFire(ctx context.Context, id uuid.UUID, ev tenantd.Event, actor lifecycle.Actor) (*lifecycle.Result, error) {
	return c.machine.Fire(tenantd.SystemContext(ctx), lifecycle.Request{TenantID: id, Event: ev, Actor: actor, Reason: "synthetic readiness tenant"})
}

// Report is the outcome of a run.
type Report struct {
	Status string
	RanAt  *time.Time
	Checks []*ent.ReadinessCheck
}

// result is one check's outcome before it is stored.
type result struct {
	name, status, summary string
	evidence              map[string]any
	started               time.Time
	duration              time.Duration
}

// Run runs the four checks now, as the caller in ctx (whose actor is
// recorded on the synthetic tenant's deletion), stores and returns them.
func (c *Checker) Run(ctx context.Context) (*Report, error) {
	runID := schema.NewID()
	start := c.machine.Now()
	c.purgeLeftovers(ctx)
	var results []*result
	timed := func(name string, f func() *result) *result {
		t0 := time.Now()
		r := f()
		r.name, r.started, r.duration = name, c.machine.Now().Add(-time.Since(t0)), time.Since(t0) // durations are measured in real time
		results = append(results, r)
		return r
	}
	var synthetic *synth
	timed(CheckSignup, func() *result { var r *result; synthetic, r = c.signupEndToEnd(ctx); return r })
	timed(CheckSpeed, func() *result { return c.provisioningSpeed(ctx, synthetic) })
	timed(CheckFunnel, func() *result { return c.funnelTracked(ctx) })
	timed(CheckIdempotent, func() *result { return c.idempotentProvisioning(ctx, synthetic) })
	// The synthetic tenant goes, whatever the checks found.
	if synthetic != nil {
		if err := c.purge(ctx, synthetic.tenantID); err != nil {
			r := results[0]
			r.status, r.summary = statusFail, r.summary+"; but purging the synthetic tenant failed: "+tenantd.ErrorMessage(err)
			r.evidence["purgeError"] = err.Error()
		} else {
			results[0].evidence["purged"] = true
		}
	}
	sys := tenantd.SystemContext(ctx)
	rep := &Report{Status: statusPass, RanAt: &start}
	for _, r := range results {
		row, err := c.db.Ent.ReadinessCheck.Create().
			SetRunID(runID).SetName(r.name).SetStatus(readinesscheck.Status(r.status)).SetSummary(r.summary).
			SetEvidence(r.evidence).SetStartedAt(r.started).SetDurationMs(int(r.duration.Milliseconds())).
			Save(sys)
		if err != nil {
			return nil, fmt.Errorf("store readiness check %s: %w", r.name, err)
		}
		rep.Checks = append(rep.Checks, row)
		rep.Status = worst(rep.Status, r.status)
		c.log.Info("readiness check", "check", r.name, "status", r.status, "summary", r.summary)
	}
	return rep, nil
}

// Latest returns the checks of the last run; FAIL with no checks if none ran.
func Latest(ctx context.Context, client *ent.Client) (*Report, error) {
	sys := tenantd.SystemContext(ctx)
	last, err := client.ReadinessCheck.Query().Order(ent.Desc(readinesscheck.FieldStartedAt)).First(sys)
	if ent.IsNotFound(err) {
		return &Report{Status: statusFail}, nil
	}
	if err != nil {
		return nil, err
	}
	checks, err := client.ReadinessCheck.Query().Where(readinesscheck.RunID(last.RunID)).
		Order(ent.Asc(readinesscheck.FieldStartedAt)).All(sys)
	if err != nil {
		return nil, err
	}
	rep := &Report{Status: statusPass, Checks: checks}
	for _, ch := range checks {
		rep.Status = worst(rep.Status, string(ch.Status))
		if rep.RanAt == nil || ch.StartedAt.Before(*rep.RanAt) {
			t := ch.StartedAt
			rep.RanAt = &t
		}
	}
	return rep, nil
}

func worst(a, b string) string {
	rank := map[string]int{statusPass: 0, statusWarn: 1, statusFail: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (c *Checker) purge(ctx context.Context, tenantID uuid.UUID) error {
	// An admin who runs the checks deletes the synthetic tenant as
	// themselves; otherwise the synthetic customer asks for its own
	// deletion, as the table lets a user (never a borrowed admin).
	actor := lifecycle.ActorOf(ctx)
	if actor.By != tenantd.TriggerAdmin {
		actor = lifecycle.Actor{By: tenantd.TriggerUser, Name: "readiness:synthetic-customer"}
	}
	t, err := c.db.Ent.Tenant.Get(tenantd.SystemContext(ctx), tenantID)
	if err != nil {
		return err
	}
	if t.State != tenantd.StatePendingDeletion {
		if t.State == tenantd.StatePending || t.State == tenantd.StateProvisioning {
			return tenantd.Errorf(tenantd.ECONFLICT, "the synthetic tenant is still %s, so it cannot be deleted yet", t.State)
		}
		if _, err := c.machineFire(ctx, tenantID, tenantd.EventRequestDeletion, actor); err != nil {
			return err
		}
	}
	_, err = c.purger.Purge(tenantd.SystemContext(ctx), tenantID, lifecycle.Actor{By: tenantd.TriggerSystem, Name: "readiness"}, "synthetic readiness tenant")
	return err
}

// purgeLeftovers purges the synthetic tenants of earlier runs that could not
// be purged then (their provisioning had not finished). Only the checks'
// own (their email is at syntheticDomain): a load test's synthetic tenants
// are not the checks' to purge.
func (c *Checker) purgeLeftovers(ctx context.Context) {
	left, err := c.db.Ent.Tenant.Query().
		Where(tenant.Synthetic(true), tenant.EmailHasSuffix("@"+syntheticDomain),
			tenant.StateNotIn(tenantd.StatePurged, tenantd.StatePending, tenantd.StateProvisioning)).
		All(tenantd.SystemContext(ctx))
	if err != nil {
		c.log.Warn("readiness: list leftover synthetic tenants", "err", err)
		return
	}
	for _, t := range left {
		if err := c.purge(ctx, t.ID); err != nil {
			c.log.Warn("readiness: purge a leftover synthetic tenant", "tenant", t.ID, "err", err)
		}
	}
}
