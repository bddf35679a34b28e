package auth

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/store"
)

// Keys manages tenants' API keys.
type Keys struct {
	db     *store.DB
	events *events.Publisher
	clock  tenantd.Clock
	idem   *idempotency.Store
}

// NewKeys returns a Keys.
func NewKeys(db *store.DB, pub *events.Publisher, opts ...Option) *Keys {
	o := optionsOf(opts)
	return &Keys{db: db, events: pub, clock: o.clock, idem: o.idem}
}

// CreateOnce is Create with an idempotency key (empty: none): the same key
// and input from the same credential return the first key and its secret
// (kept sealed with the key) and issue no second one.
func (k *Keys) CreateOnce(ctx context.Context, tenantID uuid.UUID, name, createdBy, idempotencyKey string) (string, *ent.APIKey, error) {
	if idempotencyKey == "" {
		return k.Create(ctx, tenantID, name, createdBy)
	}
	type created struct {
		ID     uuid.UUID `json:"id"`
		Secret string    `json:"secret"`
	}
	// The input as the createApiKey mutation's JSON, as it was fingerprinted
	// before the key moved here.
	input := struct {
		TenantID       uuid.UUID `json:"tenantId"`
		Name           string    `json:"name"`
		IdempotencyKey *string   `json:"idempotencyKey"`
	}{tenantID, name, &idempotencyKey}
	v, _ := tenantd.ViewerFrom(ctx)
	c, err := idempotency.Do(ctx, k.idem, idempotency.Request{Scope: "createApiKey:" + v.TokenID.String(), Key: idempotencyKey, Input: input},
		func(ctx context.Context, _ *idempotency.Claim) (created, error) {
			secret, key, err := k.Create(ctx, tenantID, name, createdBy)
			if err != nil {
				return created{}, err
			}
			return created{ID: key.ID, Secret: secret}, nil
		})
	if err != nil {
		return "", nil, err
	}
	key, err := k.db.Ent.APIKey.Get(ctx, c.ID)
	if err != nil {
		return "", nil, err
	}
	return c.Secret, key, nil
}

// Create issues a new API key for a tenant the caller in ctx can see, and
// returns its secret, shown once.
//
// Returns NOT_FOUND if the caller cannot see the tenant, INVALID_INPUT for a
// bad name, INVALID_TRANSITION if the tenant is PURGED or PENDING_DELETION.
func (k *Keys) Create(ctx context.Context, tenantID uuid.UUID, name, createdBy string) (string, *ent.APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 {
		return "", nil, tenantd.Invalid("name", "name must be 1 to 100 characters")
	}
	if err := tenantd.CheckLine("name", name, 100); err != nil {
		return "", nil, err
	}
	t, err := k.db.Ent.Tenant.Query().Where(tenant.ID(tenantID)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", nil, tenantd.Errorf(tenantd.ENOTFOUND, "no tenant with id %s", tenantID)
	}
	if err != nil {
		return "", nil, err
	}
	if t.State == tenantd.StatePurged || t.State == tenantd.StatePendingDeletion {
		return "", nil, tenantd.Errorf(tenantd.EINVALIDTRANSITION, "a tenant in state %s gets no new API keys", t.State)
	}
	return IssueAPIKey(ctx, k.db.Ent, tenantID, name, createdBy)
}

// Revoke revokes an API key the caller in ctx can see. The WebSockets
// opened with it close on every replica (the revocation is published in the
// same transaction).
// Revoking a revoked key changes nothing.
//
// Returns NOT_FOUND if the caller cannot see the key.
func (k *Keys) Revoke(ctx context.Context, id uuid.UUID) (*ent.APIKey, error) {
	var key *ent.APIKey
	err := k.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		key, err = tx.Ent.APIKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return tenantd.Errorf(tenantd.ENOTFOUND, "no API key with id %s", id)
		}
		if err != nil {
			return err
		}
		if key.RevokedAt != nil {
			return nil
		}
		sys := tenantd.SystemContext(ctx)
		if key, err = tx.Ent.APIKey.UpdateOne(key).SetRevokedAt(tenantd.Now(k.clock)).Save(sys); err != nil {
			return fmt.Errorf("revoke API key: %w", err)
		}
		return k.events.PublishTx(ctx, tx, events.Event{Kind: events.KindKeyRevoked, TenantID: key.TenantID, KeyID: key.ID})
	})
	if err != nil {
		return nil, err
	}
	return key.Unwrap(), nil
}
