// Package retention ends tenants' lives: it purges a tenant whose deletion
// was requested, destroying its workspace and personal data and leaving a
// tombstone with a purge certificate.
package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
)

// Purger purges tenants.
type Purger struct {
	db         *store.DB
	machine    *lifecycle.Machine
	workspaces *workspace.Service
	log        *slog.Logger
}

// NewPurger returns a Purger.
func NewPurger(db *store.DB, machine *lifecycle.Machine, workspaces *workspace.Service, log *slog.Logger) *Purger {
	return &Purger{db: db, machine: machine, workspaces: workspaces, log: log}
}

// Purge destroys a PENDING_DELETION tenant's workspace and personal data in
// one transaction and fires purge, whose history row carries the purge
// certificate: what was destroyed, and its SHA-256. The tenant row stays as
// a tombstone: id, slug hash, timestamps, plan, state PURGED.
//
// Returns NOT_FOUND, or INVALID_TRANSITION if the tenant is not
// PENDING_DELETION.
func (p *Purger) Purge(ctx context.Context, tenantID uuid.UUID, actor lifecycle.Actor, reason string) (*lifecycle.Result, error) {
	var (
		res     *lifecycle.Result
		cleanup func() error
	)
	err := p.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		sys := tenantd.SystemContext(ctx)
		t, err := tx.Ent.Tenant.Get(ctx, tenantID)
		if err != nil {
			return tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
		}
		if !lifecycle.Legal(t.State, tenantd.EventPurge) {
			_, err := p.machine.FireTx(ctx, tx, lifecycle.Request{TenantID: tenantID, Event: tenantd.EventPurge, Actor: actor})
			return err // the lifecycle's INVALID_TRANSITION names the state
		}
		ws, clean, err := p.workspaces.DestroyTx(ctx, tx, tenantID)
		if err != nil {
			return fmt.Errorf("destroy workspace: %w", err)
		}
		cleanup = clean
		keys, err := tx.Ent.APIKey.Update().Where(apikey.TenantID(tenantID), apikey.RevokedAtIsNil()).
			SetRevokedAt(p.machine.Now()).Save(sys)
		if err != nil {
			return fmt.Errorf("revoke keys: %w", err)
		}
		keySets, err := tx.Ent.KeySet.Delete().Where(keyset.TenantID(tenantID)).Exec(sys)
		if err != nil {
			return fmt.Errorf("delete key set: %w", err)
		}
		mails, err := tx.Ent.OutboxMessage.Delete().Where(outboxmessage.TenantID(tenantID)).Exec(sys)
		if err != nil {
			return fmt.Errorf("delete emails: %w", err)
		}
		now := p.machine.Now()
		cert := map[string]any{
			"tenant":            tenantID.String(),
			"slugHash":          t.SlugHash,
			"purgedAt":          now.Format("2006-01-02T15:04:05.000000Z07:00"),
			"workspace":         ws,
			"apiKeysRevoked":    keys,
			"keySetsDeleted":    keySets,
			"emailsDeleted":     mails,
			"personalDataWiped": []string{"name", "slug", "email"},
		}
		b, _ := json.Marshal(cert)
		sum := sha256.Sum256(b)
		res, err = p.machine.FireTx(ctx, tx, lifecycle.Request{
			TenantID: tenantID, Event: tenantd.EventPurge, Actor: actor, Reason: reason,
			Metadata: map[string]any{"purgeCertificate": cert, "certificateSha256": hex.EncodeToString(sum[:])},
			Update: func(u *ent.TenantUpdateOne) {
				u.SetName("").ClearSlug().ClearEmail().SetPurgedAt(now).ClearPurgeAfter()
			},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := cleanup(); err != nil {
		p.log.Error("purged, but the silo file could not be removed", "tenant", tenantID, "err", err)
	}
	p.log.Info("tenant purged", "tenant", tenantID)
	return res.Unwrap(), nil
}
