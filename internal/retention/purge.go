// Package retention ends tenants' lives: it purges a tenant whose deletion
// was requested, destroying its workspace and personal data and leaving a
// tombstone with a purge certificate. A purge is a PURGE operation (the
// operation engine): each step commits with its checkpoint, so a crash
// resumes where it stopped and nothing is destroyed twice or left behind.
package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/ent/exportdownload"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	entworkspace "github.com/tenantd/tenantd/ent/workspace"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	ops "github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/subscription"
	"github.com/tenantd/tenantd/internal/workspace"
)

// The steps of a PURGE operation, in order.
const (
	StepDestroyWorkspace = "destroy_workspace"
	StepRemoveFiles      = "remove_files"
	StepRevokeKeys       = "revoke_keys"
	StepDeleteMail       = "delete_mail"
	StepDeleteCustomer   = "delete_customer"
	StepDeleteExports    = "delete_exports"
	StepRemoveExports    = "remove_exports"
	StepPurge            = "purge"
)

// ExportStore removes a tenant's export archives (internal/export).
type ExportStore interface {
	// RemoveTenantFiles deletes every archive of the tenant, finished or
	// not, and returns the files it removed; none left is no error.
	RemoveTenantFiles(tenantID uuid.UUID) ([]string, error)
}

// Purger purges tenants.
type Purger struct {
	db         *store.DB
	machine    *lifecycle.Machine
	workspaces *workspace.Service
	ops        *ops.Engine
	events     *events.Publisher
	billing    billing.Provider
	// subscriptions cancels and resumes billing for DELETE and RESTORE.
	subscriptions *subscription.Service
	jobs          mail.JobInserter
	exports       ExportStore
	publicURL     func() string
	log           *slog.Logger
}

// Config wires a Purger.
type Config struct {
	DB         *store.DB
	Lifecycle  *lifecycle.Machine
	Workspaces *workspace.Service
	// Operations runs the PURGE operations: NewPurger registers the kind.
	Operations *ops.Engine
	Events     *events.Publisher
	// Billing deletes the tenant's customer at the provider.
	Billing billing.Provider
	// Subscriptions cancels the subscription of a deleted tenant and
	// resumes that of a restored one.
	Subscriptions *subscription.Service
	// Jobs queues the deletion's confirmation email.
	Jobs mail.JobInserter
	// Exports removes a purged tenant's export archives; nil: none kept.
	Exports ExportStore
	// PublicURL returns where users reach tenantd: the deletion email's
	// restore link points there.
	PublicURL func() string
	Logger    *slog.Logger
}

// NewPurger returns a Purger and registers the DELETE, RESTORE and PURGE
// kinds.
func NewPurger(cfg Config) *Purger {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "http://localhost:8080" }
	}
	p := &Purger{db: cfg.DB, machine: cfg.Lifecycle, workspaces: cfg.Workspaces, ops: cfg.Operations, events: cfg.Events,
		billing: cfg.Billing, subscriptions: cfg.Subscriptions, jobs: cfg.Jobs, exports: cfg.Exports, publicURL: cfg.PublicURL, log: cfg.Logger}
	p.ops.Add(p.kind())
	p.ops.Add(p.deleteKind())
	p.ops.Add(p.restoreKind())
	return p
}

// kind is the PURGE operation. A failure leaves the tenant
// PENDING_DELETION (its operation FAILED), to be purged by a later run.
func (p *Purger) kind() ops.Kind {
	return ops.Kind{
		Name: tenantd.OpPurge, Timeout: time.Minute, MaxAttempts: 10,
		Steps: []ops.Step{
			{Name: StepDestroyWorkspace, Tx: p.destroyWorkspace},
			{Name: StepRemoveFiles, Do: p.removeFiles},
			{Name: StepRevokeKeys, Tx: p.revokeKeys},
			{Name: StepDeleteMail, Tx: p.deleteMail},
			{Name: StepDeleteCustomer, Do: p.deleteCustomer},
			{Name: StepDeleteExports, Tx: p.deleteExports},
			{Name: StepRemoveExports, Do: p.removeExports},
			{Name: StepPurge, Tx: p.purge},
		},
	}
}

// Start starts the purge of a PENDING_DELETION tenant, or returns the PURGE
// operation already under way for it: a purge asked for twice (two
// replicas' sweeps, an admin beside a sweep) runs once.
//
// Returns NOT_FOUND, or INVALID_TRANSITION if the tenant is not
// PENDING_DELETION.
func (p *Purger) Start(ctx context.Context, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*ent.Operation, error) {
	op, _, err := p.start(ctx, tenantID, actor, reason)
	return op, err
}

// start is Start; created says whether it started the operation.
func (p *Purger) start(ctx context.Context, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*ent.Operation, bool, error) {
	var (
		op      *ent.Operation
		created bool
	)
	err := p.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		op, created, err = p.startTx(ctx, tx, tenantID, actor, reason)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return op.Unwrap(), created, nil
}

// startTx is start in tx. A refusal (NOT_FOUND, INVALID_TRANSITION,
// FORBIDDEN) writes nothing, so tx may go on with other tenants.
func (p *Purger) startTx(ctx context.Context, tx *store.Tx, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*ent.Operation, bool, error) {
	sys := tenantd.SystemContext(ctx)
	q := tx.Ent.Tenant.Query().Where(tenant.ID(tenantID))
	if tx.IsPostgres() {
		q = q.ForUpdate() // concurrent starts of one tenant's purge queue here
	}
	t, err := q.Only(ctx) // the caller's visibility: another tenant is NOT_FOUND
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, false, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
		}
		return nil, false, err
	}
	running, err := ops.UnderWay(sys, tx.Ent, tenantID, tenantd.OpPurge)
	if err != nil || running != nil {
		return running, false, err
	}
	if err := lifecycle.Check(t.State, tenantd.EventPurge, actor); err != nil {
		return nil, false, err // INVALID_TRANSITION names the state
	}
	op, err := p.ops.StartTx(ctx, tx, tenantID, ops.Spec{
		Kind: tenantd.OpPurge, RequestedBy: actor.Name,
		Params: map[string]any{"reason": reason, "actor": actor.Name, "by": string(actor.By)},
	})
	if err != nil {
		return nil, false, err
	}
	return op, true, nil
}

// Purge starts the purge and waits until it is done (readiness, the CLI):
// it returns the finished operation, or an error naming why it failed.
func (p *Purger) Purge(ctx context.Context, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*ent.Operation, error) {
	op, err := p.Start(ctx, tenantID, actor, reason)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		op, err = p.db.Ent.Operation.Get(tenantd.SystemContext(ctx), op.ID)
		if err != nil {
			return nil, err
		}
		switch op.Status {
		case tenantd.OpSucceeded:
			return op, nil
		case tenantd.OpFailed, tenantd.OpCanceled:
			msg := "the purge failed"
			if op.ErrorMessage != nil {
				msg = *op.ErrorMessage
			}
			return op, fmt.Errorf("purge tenant %s: %s", tenantID, msg)
		}
		select {
		case <-ctx.Done():
			return op, fmt.Errorf("purge tenant %s: still %s: %w", tenantID, op.Status, ctx.Err())
		case <-tick.C:
		}
	}
}

func (p *Purger) destroyWorkspace(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
	report, _, err := p.workspaces.DestroyTx(ctx, tx, r.Op.TenantID)
	if err != nil {
		return "", fmt.Errorf("destroy workspace: %w", err)
	}
	r.Set("workspace", report)
	return "workspace destroyed", nil
}

// removeFiles deletes a silo file once its workspace is destroyed: a file
// cannot be deleted in a transaction, so this step does it after, and again
// (harmlessly) if a crash came between.
func (p *Purger) removeFiles(ctx context.Context, r *ops.Run) (string, error) {
	report, _ := r.Op.Result["workspace"].(map[string]any)
	path, _ := report["deletedFile"].(string)
	if path == "" {
		return "no file", nil
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("remove %s: %w", f, err)
		}
	}
	return "workspace file removed", nil
}

func (p *Purger) revokeKeys(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
	n, err := p.revokeKeysTx(ctx, tx, r.Op.TenantID)
	if err != nil {
		return "", err
	}
	prev, _ := r.Op.Result["apiKeysRevoked"].(float64)
	r.Set("apiKeysRevoked", int(prev)+n)
	return fmt.Sprintf("%d API keys revoked", n), nil
}

func (p *Purger) deleteMail(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
	sys := tenantd.SystemContext(ctx)
	keySets, err := tx.Ent.KeySet.Delete().Where(keyset.TenantID(r.Op.TenantID)).Exec(sys)
	if err != nil {
		return "", fmt.Errorf("delete key set: %w", err)
	}
	mails, err := tx.Ent.OutboxMessage.Delete().Where(outboxmessage.TenantID(r.Op.TenantID)).Exec(sys)
	if err != nil {
		return "", fmt.Errorf("delete emails: %w", err)
	}
	r.Set("keySetsDeleted", keySets)
	r.Set("emailsDeleted", mails)
	return fmt.Sprintf("%d emails and %d key sets deleted", mails, keySets), nil
}

// deleteCustomer deletes the tenant's customer at the billing provider
// (created with the owner's name and email), idempotently.
func (p *Purger) deleteCustomer(ctx context.Context, r *ops.Run) (string, error) {
	if p.billing == nil || r.Tenant.BillingCustomerID == nil {
		r.Set("billingCustomerDeleted", false)
		return "no billing customer", nil
	}
	provider := billing.For(p.billing, r.Tenant.Synthetic, p.db.Ent)
	if _, err := provider.DeleteCustomer(ctx, billing.DeleteCustomerRequest{
		IdempotencyKey: billing.OperationKey(r.Op.ID, r.Step()), CustomerID: *r.Tenant.BillingCustomerID,
	}); err != nil {
		return "", fmt.Errorf("delete the customer at %s: %w", provider.Name(), err)
	}
	r.Set("billingCustomerDeleted", true)
	return "customer deleted at " + provider.Name(), nil
}

// deleteExports deletes the rows of the tenant's export archives and of
// their download log; the archives themselves are removed by the next
// step, after commit (a file is not transactional), and again harmlessly
// after a crash.
func (p *Purger) deleteExports(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
	sys := tenantd.SystemContext(ctx)
	downloads, err := tx.Ent.ExportDownload.Delete().Where(exportdownload.TenantID(r.Op.TenantID)).Exec(sys)
	if err != nil {
		return "", fmt.Errorf("delete the download log: %w", err)
	}
	rows, err := tx.Ent.Export.Delete().Where(export.TenantID(r.Op.TenantID)).Exec(sys)
	if err != nil {
		return "", fmt.Errorf("delete exports: %w", err)
	}
	r.Set("exportsDeleted", rows)
	r.Set("exportDownloadsDeleted", downloads)
	return fmt.Sprintf("%d exports and %d downloads deleted", rows, downloads), nil
}

func (p *Purger) removeExports(ctx context.Context, r *ops.Run) (string, error) {
	if p.exports == nil {
		return "no export store", nil
	}
	removed, err := p.exports.RemoveTenantFiles(r.Op.TenantID)
	if err != nil {
		return "", fmt.Errorf("remove export archives: %w", err)
	}
	// A run after a crash finds the files gone: keep what the first removed.
	prev, _ := r.Op.Result["exportFilesRemoved"].([]any)
	names := make([]string, 0, len(prev)+len(removed))
	for _, f := range prev {
		if n, _ := f.(string); n != "" {
			names = append(names, n)
		}
	}
	for _, f := range removed {
		names = append(names, filepath.Base(f))
	}
	r.Set("exportFilesRemoved", names)
	return fmt.Sprintf("%d export files removed", len(removed)), nil
}

// purge erases what is left of the tenant — its API keys, milestones,
// workspace record and other operations — fires purge, whose history row
// carries the purge certificate (what was destroyed, and its SHA-256), and
// scrubs the tenant row to a tombstone: id, slug hash, timestamps, plan,
// state PURGED. What stays with the tenant's id is the tombstone, the hash
// chain (its free text erased) and this PURGE operation, none of which
// holds personal data.
func (p *Purger) purge(ctx context.Context, tx *store.Tx, r *ops.Run) (string, error) {
	t := r.Tenant
	if t.State == tenantd.StatePurged {
		return "already purged", nil
	}
	sys := tenantd.SystemContext(ctx)
	now := p.machine.Now()
	rows, err := p.eraseRecords(sys, tx, r)
	if err != nil {
		return "", err
	}
	files := []string{}
	if report, ok := r.Op.Result["workspace"].(map[string]any); ok {
		if f, _ := report["deletedFile"].(string); f != "" {
			files = append(files, "workspace:"+filepath.Base(f)) // the name, not the server's path
		}
	}
	if ex, ok := r.Op.Result["exportFilesRemoved"].([]any); ok {
		for _, f := range ex {
			if s, _ := f.(string); s != "" {
				files = append(files, "export:"+s)
			}
		}
	}
	cert := map[string]any{
		"version":           1,
		"tenant":            t.ID.String(),
		"slugHash":          t.SlugHash,
		"operation":         r.Op.ID.String(),
		"purgedAt":          now.Format("2006-01-02T15:04:05.000000Z07:00"),
		"workspace":         r.Op.Result["workspace"],
		"rowsRemoved":       rows,
		"filesRemoved":      files,
		"apiKeysRevoked":    r.Op.Result["apiKeysRevoked"],
		"billingCustomer":   r.Op.Result["billingCustomerDeleted"],
		"personalDataWiped": []string{"name", "slug", "email", "billing references", "history free text", "operation parameters"},
		"kept":              []string{"tenant tombstone (id, slug hash, timestamps, plan)", "state transitions (hash chain, free text erased)", "this PURGE operation"},
	}
	b, _ := json.Marshal(cert)
	sum := sha256.Sum256(b)
	by, _ := r.Op.Params["by"].(string)
	name, _ := r.Op.Params["actor"].(string)
	reason, _ := r.Op.Params["reason"].(string)
	actor := lifecycle.Actor{By: tenantd.Trigger(by), Name: name}
	if actor.By == "" {
		actor = lifecycle.Actor{By: tenantd.TriggerSystem, Name: "worker:retention"}
	}
	_, err = p.machine.FireTx(ctx, tx, lifecycle.Request{
		TenantID: t.ID, Event: tenantd.EventPurge, Actor: actor, Reason: reason,
		Metadata: map[string]any{"purgeCertificate": cert, "certificateSha256": hex.EncodeToString(sum[:])},
		Update: func(u *ent.TenantUpdateOne) {
			u.SetName("").ClearSlug().ClearEmail().SetPurgedAt(now).ClearPurgeAfter().
				ClearBillingCustomerID().ClearBillingSubscriptionID().
				ClearScheduledPlanKey().ClearScheduledPlanAt().ClearScheduledPlanRequestedAt().
				ClearScheduledPlanRequestedBy().ClearScheduledPlanTrigger().
				ClearScheduledCancelAt().ClearScheduledCancelFeedback().ClearScheduledCancelRequestedAt().
				ClearScheduledCancelRequestedBy().ClearPausedUntil().ClearCancelFeedback().ClearMarketingUnsubscribedAt()
		},
	})
	if err != nil {
		return "", err
	}
	// The history's free text — reasons, comments, names — is erased; the
	// chain, which commits to it without holding it, still verifies.
	erased, err := p.machine.EraseTextTx(ctx, tx, t.ID)
	if err != nil {
		return "", err
	}
	// The reason given for this purge is erased from its parameters too.
	if err := tx.Ent.Operation.UpdateOneID(r.Op.ID).SetParams(map[string]any{"by": by}).Exec(sys); err != nil {
		return "", fmt.Errorf("scrub the purge's parameters: %w", err)
	}
	r.Set("historyTextErased", erased)
	r.Set("certificateSha256", hex.EncodeToString(sum[:]))
	p.log.Info("tenant purged", "tenant", t.ID, "operation", r.Op.ID)
	return "tenant purged; certificate " + hex.EncodeToString(sum[:12]), nil
}

// eraseRecords deletes the tenant's rows that the earlier steps left, and
// returns the rows removed per table, the earlier steps' included.
func (p *Purger) eraseRecords(ctx context.Context, tx *store.Tx, r *ops.Run) (map[string]int, error) {
	id := r.Op.TenantID
	rows := map[string]int{}
	if report, ok := r.Op.Result["workspace"].(map[string]any); ok {
		for k, v := range report {
			if n, ok := v.(float64); ok && strings.HasPrefix(k, "deleted_") {
				rows[strings.TrimPrefix(k, "deleted_")] = int(n)
			}
		}
	}
	for k, key := range map[string]string{"outbox_messages": "emailsDeleted", "key_sets": "keySetsDeleted",
		"exports": "exportsDeleted", "export_downloads": "exportDownloadsDeleted"} {
		if n, ok := r.Op.Result[key].(float64); ok {
			rows[k] = int(n)
		}
	}
	var err error
	if rows["api_keys"], err = tx.Ent.APIKey.Delete().Where(apikey.TenantID(id)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete API keys: %w", err)
	}
	if rows["milestones"], err = tx.Ent.Milestone.Delete().Where(milestone.TenantID(id)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete milestones: %w", err)
	}
	// The win-back mails it was sent go too: a campaign's figures no longer
	// count a purged tenant.
	if rows["win_back_messages"], err = tx.Ent.WinBackMessage.Delete().Where(winbackmessage.TenantID(id)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete win-back messages: %w", err)
	}
	if rows["workspaces"], err = tx.Ent.Workspace.Delete().Where(entworkspace.TenantID(id)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete the workspace record: %w", err)
	}
	if rows["operations"], err = tx.Ent.Operation.Delete().Where(operation.TenantID(id), operation.IDNEQ(r.Op.ID)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("delete operations: %w", err)
	}
	return rows, nil
}
