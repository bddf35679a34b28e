package retention

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	ops "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
)

// The retention window of a deletion, in days.
const (
	DefaultRetentionDays = 30
	MinRetentionDays     = 30
	MaxRetentionDays     = 90
)

// The steps of DELETE and RESTORE operations.
const (
	StepCancelBilling = "cancel_billing"
	StepResumeBilling = "resume_billing"
)

// dateLayout is how a purge date reads in messages and emails.
const dateLayout = "2006-01-02 15:04 UTC"

// deleteKind is the DELETE operation: the transition that asks for it has
// already made the tenant PENDING_DELETION and revoked its keys; the
// operation tells the billing provider. A failure after the last attempt
// leaves the tenant PENDING_DELETION: the operation FAILED says the
// subscription was not canceled, for an operator to follow up.
func (p *Purger) deleteKind() ops.Kind {
	return ops.Kind{Name: tenantd.OpDelete, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []ops.Step{{Name: StepCancelBilling, Do: p.cancelBilling}}}
}

// restoreKind is the RESTORE operation: the tenant is back in its former
// state; the operation resumes its billing.
func (p *Purger) restoreKind() ops.Kind {
	return ops.Kind{Name: tenantd.OpRestore, Timeout: 30 * time.Second, MaxAttempts: 12,
		Steps: []ops.Step{{Name: StepResumeBilling, Do: p.resumeBilling}}}
}

// DeletionRequest asks for a tenant's deletion.
type DeletionRequest struct {
	TenantID uuid.UUID
	// RetentionDays is the window before the purge, 30 to 90; 0 means the
	// default (30).
	RetentionDays int
	// ConfirmSlug must be the tenant's slug: the caller typed it.
	ConfirmSlug string
	// Reason is free text for the audit trail (erased at purge).
	Reason string
	Actor  lifecycle.Actor
}

// RequestDeletion moves a tenant to PENDING_DELETION with a retention
// window. In the one transaction of the transition its API keys are
// revoked (its WebSockets close on every replica), the confirmation email
// naming the purge date is queued, and a DELETE operation is started to
// cancel its billing subscription. Everything is validated before anything
// is written.
//
// Returns INVALID_INPUT (retentionDays, confirmSlug), NOT_FOUND,
// INVALID_TRANSITION, FORBIDDEN.
func (p *Purger) RequestDeletion(ctx context.Context, req DeletionRequest) (*lifecycle.Result, error) {
	days := req.RetentionDays
	if days == 0 {
		days = DefaultRetentionDays
	}
	if days < MinRetentionDays || days > MaxRetentionDays {
		return nil, tenantd.Invalid("retentionDays", "retentionDays must be %d to %d days, not %d", MinRetentionDays, MaxRetentionDays, days)
	}
	t, err := p.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	if err := confirm(t, req.ConfirmSlug); err != nil {
		return nil, err
	}
	if err := lifecycle.Check(t.State, tenantd.EventRequestDeletion, req.Actor); err != nil {
		return nil, err
	}
	purgeAfter := p.machine.Now().Add(time.Duration(days) * 24 * time.Hour)
	var res *lifecycle.Result
	err = p.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		params := map[string]any{"retentionDays": days}
		if p.subscriptions != nil {
			for k, v := range p.subscriptions.Params(t) {
				params[k] = v
			}
		}
		params["fromState"] = string(t.State)
		var err error
		res, err = p.machine.FireTx(ctx, tx, lifecycle.Request{
			TenantID: t.ID, Event: tenantd.EventRequestDeletion, Actor: req.Actor, Reason: req.Reason,
			Metadata:  map[string]any{"retentionDays": days, "purgeAfter": purgeAfter.Format(time.RFC3339)},
			Update:    func(u *ent.TenantUpdateOne) { u.SetPurgeAfter(purgeAfter) },
			Operation: &ops.Spec{Kind: tenantd.OpDelete, Params: params},
		})
		if err != nil {
			return err
		}
		if _, err := p.revokeKeysTx(ctx, tx, t.ID); err != nil {
			return err
		}
		return p.mailDeletion(ctx, tx, res.Tenant, res.Transition.Seq, purgeAfter, req.Actor.By == tenantd.TriggerUser)
	})
	if err != nil {
		return nil, err
	}
	p.log.Info("tenant deletion requested", "tenant", t.ID, "purgeAfter", purgeAfter, "by", req.Actor.Name)
	return res.Unwrap(), nil
}

// confirm checks that the caller typed the tenant's slug.
func confirm(t *ent.Tenant, typed string) error {
	if t.Slug == nil {
		return tenantd.Errorf(tenantd.EINVALIDTRANSITION, "the tenant %s was purged: there is nothing left to delete", t.ID)
	}
	if strings.TrimSpace(typed) != *t.Slug {
		return tenantd.Invalid("confirmSlug", "confirmSlug must be the tenant's slug, typed exactly, to confirm")
	}
	return nil
}

// revokeKeysTx revokes the tenant's working API keys in tx and publishes
// each revocation, so that their WebSockets close on every replica.
func (p *Purger) revokeKeysTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID) (int, error) {
	sys := tenantd.SystemContext(ctx)
	keys, err := tx.Ent.APIKey.Query().Where(apikey.TenantID(tenantID), apikey.RevokedAtIsNil()).All(sys)
	if err != nil {
		return 0, fmt.Errorf("revoke keys: %w", err)
	}
	for _, k := range keys {
		if err := tx.Ent.APIKey.UpdateOne(k).SetRevokedAt(p.machine.Now()).Exec(sys); err != nil {
			return 0, fmt.Errorf("revoke keys: %w", err)
		}
		if err := p.events.PublishTx(ctx, tx, events.Event{Kind: events.KindKeyRevoked, TenantID: k.TenantID, KeyID: k.ID}); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// mailDeletion queues the email that confirms a deletion and names the
// purge date. When the customer asked for it (selfService), it carries the
// restore link, so the customer can take its own deletion back; an
// operator's deletion only an operator takes back.
func (p *Purger) mailDeletion(ctx context.Context, tx *store.Tx, t *ent.Tenant, seq int, purgeAfter time.Time, selfService bool) error {
	if t.Email == nil || p.jobs == nil {
		return nil
	}
	slug := ""
	if t.Slug != nil {
		slug = *t.Slug
	}
	restore := fmt.Sprintf(`Until then an administrator can restore the workspace, with its data
intact: ask yours to restore tenant %s.`, t.ID)
	if selfService {
		if err := auth.EnsureSigningKey(ctx, tx.Ent, t.ID); err != nil {
			return err
		}
		key, err := auth.SigningKey(ctx, tx.Ent, t.ID)
		if err != nil {
			return err
		}
		restore = fmt.Sprintf(`Until then the workspace can be restored, with its data intact and a new
API key, through this link (it works until the purge):

  %s

or by asking your administrator to restore tenant %s.`, p.restoreLink(key, t.ID, purgeAfter), t.ID)
	}
	text := fmt.Sprintf(`Hello,

the deletion of your workspace %q (%s) was requested.

Its API keys no longer work and its data can no longer be used. On %s
all of its data will be permanently deleted (purged); this cannot be undone.

%s

— tenantd
`, t.Name, slug, purgeAfter.UTC().Format(dateLayout), restore)
	_, _, err := mail.EnqueueTx(ctx, tx, p.jobs, mail.NewMessage{
		TenantID: &t.ID, Kind: "deletion_requested", DedupeKey: fmt.Sprintf("deletion_requested:%s:%d", t.ID, seq),
		To: *t.Email, Subject: fmt.Sprintf("Your workspace %q will be deleted on %s", t.Name, purgeAfter.UTC().Format("2006-01-02")),
		Text: text,
	})
	return err
}

// cancelBilling cancels the subscription unless the tenant's was already
// canceled (a deletion of a CANCELED tenant).
func (p *Purger) cancelBilling(ctx context.Context, r *ops.Run) (string, error) {
	if from, _ := r.Op.Params["fromState"].(string); from == string(tenantd.StateCanceled) {
		return "the subscription was already canceled", nil
	}
	if p.subscriptions == nil {
		return "no billing", nil
	}
	return p.subscriptions.CancelBilling(ctx, r)
}

// resumeBilling resumes the subscription of a tenant restored to a state
// that bills (ACTIVE, SUSPENDED).
func (p *Purger) resumeBilling(ctx context.Context, r *ops.Run) (string, error) {
	switch to, _ := r.Op.Params["toState"].(string); tenantd.State(to) {
	case tenantd.StateActive, tenantd.StateSuspended:
	default:
		return "restored to " + to + ": nothing to bill", nil
	}
	if p.subscriptions == nil {
		return "no billing", nil
	}
	// The deletion's cancellation may still be retrying: resuming before
	// it lands would leave the subscription canceled under an ACTIVE
	// tenant. Wait for it.
	if err := r.WaitFor(ctx, tenantd.OpDelete, 2*time.Second); err != nil {
		return "", err
	}
	return p.subscriptions.ReactivateBilling(ctx, r)
}

// RestoreRequest asks for a PENDING_DELETION tenant back.
type RestoreRequest struct {
	TenantID uuid.UUID
	Reason   string
	Actor    lifecycle.Actor
}

// RestoreResult is a restored tenant and its new API key.
type RestoreResult struct {
	*lifecycle.Result
	// APIKey is the secret of the tenant's new API key, shown once: its
	// keys were revoked when its deletion was requested.
	APIKey string
	// KeyID is that key's id.
	KeyID uuid.UUID
}

// Restore brings a PENDING_DELETION tenant back to the state it had before
// its deletion was requested, its data intact. In the transaction of the
// transition a new API key is issued and a RESTORE operation is started to
// resume its billing.
//
// Returns NOT_FOUND, INVALID_TRANSITION (PURGED: the data is gone),
// FORBIDDEN.
func (p *Purger) Restore(ctx context.Context, req RestoreRequest) (*RestoreResult, error) {
	t, err := p.machine.Visible(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	if t.State == tenantd.StatePurged {
		return nil, &tenantd.Error{Code: tenantd.EINVALIDTRANSITION, Extra: map[string]any{"state": string(t.State)},
			Message: "the tenant was purged: its data no longer exists and cannot be restored; sign up again"}
	}
	if err := lifecycle.Check(t.State, tenantd.EventRestore, req.Actor); err != nil {
		return nil, err
	}
	out := &RestoreResult{}
	err = p.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		params := map[string]any{}
		if p.subscriptions != nil {
			params = p.subscriptions.Params(t)
		}
		if t.StateBeforeDeletion != nil {
			params["toState"] = string(*t.StateBeforeDeletion)
		}
		res, err := p.machine.FireTx(ctx, tx, lifecycle.Request{
			TenantID: t.ID, Event: tenantd.EventRestore, Actor: req.Actor, Reason: req.Reason,
			Operation: &ops.Spec{Kind: tenantd.OpRestore, Params: params},
		})
		if err != nil {
			return err
		}
		secret, k, err := auth.IssueAPIKey(ctx, tx.Ent, t.ID, "restored", req.Actor.Name)
		if err != nil {
			return err
		}
		out.Result, out.APIKey, out.KeyID = res, secret, k.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Result.Unwrap()
	p.log.Info("tenant restored", "tenant", t.ID, "state", out.Tenant.State, "by", req.Actor.Name)
	return out, nil
}

// PurgeNow purges a PENDING_DELETION tenant at once, for an erasure request
// that cannot wait for the window (an admin): the caller typed the slug.
//
// Returns INVALID_INPUT (confirmSlug), NOT_FOUND, INVALID_TRANSITION,
// FORBIDDEN.
func (p *Purger) PurgeNow(ctx context.Context, tenantID uuid.UUID, confirmSlug string, actor lifecycle.Actor) (*ent.Tenant, *ent.Operation, error) {
	t, err := p.machine.Visible(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	if err := confirm(t, confirmSlug); err != nil {
		return nil, nil, err
	}
	if err := lifecycle.Check(t.State, tenantd.EventPurge, actor); err != nil {
		return nil, nil, err
	}
	op, err := p.Start(ctx, tenantID, actor, "purged at once by an admin")
	if err != nil {
		return nil, nil, err
	}
	t, err = p.db.Ent.Tenant.Get(ctx, tenantID)
	return t, op, err
}

// sweepPage is how many due tenants a sweep reads at a time.
const sweepPage = 500

// sweepChunk is how many purges one transaction of a sweep starts.
const sweepChunk = 100

// SweepDue starts the purge of every tenant whose retention window has
// ended and returns how many purges it started. It reads the due tenants
// page by page in purge_after order through the index on purge_after, so
// its cost grows with the number due, not with the number of tenants. A
// purge already under way is not started again (Start), so several
// replicas sweeping at once purge each tenant once.
func (p *Purger) SweepDue(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	now := p.machine.Now()
	actor := lifecycle.Actor{By: tenantd.TriggerSystem, Name: "sweep:retention"}
	started := 0
	var after *ent.Tenant // the cursor: the last tenant of the previous page
	for {
		q := p.db.Ent.Tenant.Query().Where(tenant.PurgeAfterLTE(now), tenant.StateEQ(tenantd.StatePendingDeletion))
		if after != nil {
			q = q.Where(tenant.Or(tenant.PurgeAfterGT(*after.PurgeAfter),
				tenant.And(tenant.PurgeAfterEQ(*after.PurgeAfter), tenant.IDGT(after.ID))))
		}
		page, err := q.Order(ent.Asc(tenant.FieldPurgeAfter), ent.Asc(tenant.FieldID)).Limit(sweepPage).
			Select(tenant.FieldID, tenant.FieldPurgeAfter).All(sys)
		if err != nil {
			return started, fmt.Errorf("find tenants due for purge: %w", err)
		}
		n, err := p.startAll(sys, page, actor)
		started += n
		if err != nil || len(page) < sweepPage {
			return started, err
		}
		after = page[len(page)-1]
	}
}

// startAll starts the purges of the tenants, a transaction per chunk: one
// commit starts many.
func (p *Purger) startAll(ctx context.Context, tenants []*ent.Tenant, actor lifecycle.Actor) (int, error) {
	started := 0
	for chunk := range slices.Chunk(tenants, sweepChunk) {
		n := 0
		err := p.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			n = 0
			for _, t := range chunk {
				_, created, err := p.startTx(ctx, tx, t.ID, actor, "the retention window ended")
				if code := tenantd.ErrorCode(err); code == tenantd.EINVALIDTRANSITION || code == tenantd.ENOTFOUND {
					continue // restored or purged since it was read
				}
				if err != nil {
					return fmt.Errorf("purge tenant %s: %w", t.ID, err)
				}
				if created {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return started, err
		}
		started += n
	}
	return started, nil
}
