// Package auth issues and checks tenantd's bearer tokens: admin tokens
// (role ADMIN or PARTNER) and tenant API keys. Only a SHA-256 of each secret is
// stored — the secrets are 160 bits of randomness, so a slow password hash
// would add nothing but latency — and a short prefix is kept for display.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/admintoken"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/store"
)

// Token prefixes tell the two kinds apart at a glance and in secret scanners.
const (
	AdminPrefix  = "tda_"
	APIKeyPrefix = "tdk_"
	// displayLen is how much of a token is kept in clear for display.
	displayLen = 12
	secretLen  = 32
)

// touchEvery bounds how often last_used_at is written for one token.
const touchEvery = time.Minute

// Service authenticates callers and issues tokens.
type Service struct {
	db     *store.DB
	client *ent.Client
	events *events.Publisher
	clock  tenantd.Clock
}

// Option adjusts a Service or Keys.
type Option func(*options)

type options struct {
	clock tenantd.Clock
	idem  *idempotency.Store
}

// WithClock sets the clock of revocations and last-use stamps.
func WithClock(c tenantd.Clock) Option { return func(o *options) { o.clock = c } }

// WithIdempotency gives Keys the store of its idempotency keys.
func WithIdempotency(s *idempotency.Store) Option { return func(o *options) { o.idem = s } }

func optionsOf(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.clock = tenantd.ClockOr(o.clock)
	return o
}

// New returns a Service over db. Revocations are published through pub
// (in their transaction), so that every replica closes the revoked token's
// connections.
func New(db *store.DB, pub *events.Publisher, opts ...Option) *Service {
	return &Service{db: db, client: db.Ent, events: pub, clock: optionsOf(opts).clock}
}

// Hash returns the stored form of a token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Display returns the part of a token kept for display.
func Display(token string) string {
	if len(token) <= displayLen {
		return token
	}
	return token[:displayLen]
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSecret returns prefix followed by secretLen random base62 characters
// (about 190 bits).
func newSecret(prefix string) (string, error) {
	var b strings.Builder
	b.WriteString(prefix)
	max := big.NewInt(int64(len(alphabet)))
	for range secretLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate token: %w", err)
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String(), nil
}

// Authenticate returns the viewer a bearer token stands for.
//
// Returns UNAUTHENTICATED if the token is unknown or revoked.
func (s *Service) Authenticate(ctx context.Context, token string) (tenantd.Viewer, error) {
	sys := tenantd.SystemContext(ctx)
	hash := Hash(token)
	switch {
	case strings.HasPrefix(token, AdminPrefix) || !strings.HasPrefix(token, APIKeyPrefix):
		// Bootstrap tokens from TENANTD_ADMIN_TOKEN may have any form.
		t, err := s.client.AdminToken.Query().Where(admintoken.SecretHash(hash)).Only(sys)
		if ent.IsNotFound(err) {
			return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the bearer token is not valid")
		}
		if err != nil {
			return tenantd.Viewer{}, fmt.Errorf("look up admin token: %w", err)
		}
		if t.RevokedAt != nil {
			return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the token %s… was revoked", t.Prefix)
		}
		s.touchAdmin(sys, t)
		role := tenantd.RoleAdmin
		if t.Role == admintoken.RolePARTNER {
			role = tenantd.RolePartner
		}
		return tenantd.Viewer{Role: role, TokenID: t.ID, Actor: strings.ToLower(string(role)) + ":" + t.Prefix}, nil
	default:
		k, err := s.client.APIKey.Query().Where(apikey.SecretHash(hash)).Only(sys)
		if ent.IsNotFound(err) {
			return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the API key is not valid")
		}
		if err != nil {
			return tenantd.Viewer{}, fmt.Errorf("look up API key: %w", err)
		}
		if k.RevokedAt != nil {
			if t, err := s.client.Tenant.Get(sys, k.TenantID); err == nil && t.State == tenantd.StatePendingDeletion && t.PurgeAfter != nil {
				return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED,
					"the API key %s… no longer works: its tenant is PENDING_DELETION and its data will be purged on %s unless an admin restores it",
					k.Prefix, t.PurgeAfter.UTC().Format("2006-01-02 15:04 UTC"))
			}
			return tenantd.Viewer{}, tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the API key %s… was revoked", k.Prefix)
		}
		s.touchKey(sys, k)
		return tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: k.TenantID, TokenID: k.ID, Actor: "key:" + k.Prefix}, nil
	}
}

func (s *Service) touchAdmin(ctx context.Context, t *ent.AdminToken) {
	now := tenantd.Now(s.clock)
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < touchEvery {
		return
	}
	// Best effort: a failed touch must not fail the request.
	_ = s.client.AdminToken.UpdateOneID(t.ID).SetLastUsedAt(now).Exec(ctx)
}

func (s *Service) touchKey(ctx context.Context, k *ent.APIKey) {
	now := tenantd.Now(s.clock)
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < touchEvery {
		return
	}
	_ = s.client.APIKey.UpdateOneID(k.ID).SetLastUsedAt(now).Exec(ctx)
}

// CreateAdminToken issues a new admin token and returns its secret, which is
// shown once and never stored.
func (s *Service) CreateAdminToken(ctx context.Context, role admintoken.Role, name string) (string, *ent.AdminToken, error) {
	if err := admintoken.RoleValidator(role); err != nil {
		return "", nil, tenantd.Invalid("role", "role must be ADMIN or PARTNER, not %q", role)
	}
	if name == "" {
		name = strings.ToLower(string(role)) + " token"
	}
	secret, err := newSecret(AdminPrefix)
	if err != nil {
		return "", nil, err
	}
	t, err := s.client.AdminToken.Create().
		SetRole(role).SetName(name).SetPrefix(Display(secret)).SetSecretHash(Hash(secret)).
		Save(tenantd.SystemContext(ctx))
	if err != nil {
		return "", nil, fmt.Errorf("create admin token: %w", err)
	}
	return secret, t, nil
}

// EnsureAdminToken registers a given secret (TENANTD_ADMIN_TOKEN) as an
// ADMIN token. It is idempotent.
func (s *Service) EnsureAdminToken(ctx context.Context, secret, name string) error {
	err := s.client.AdminToken.Create().
		SetRole(admintoken.RoleADMIN).SetName(name).SetPrefix(Display(secret)).SetSecretHash(Hash(secret)).
		OnConflictColumns(admintoken.FieldSecretHash).DoNothing().
		Exec(tenantd.SystemContext(ctx))
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // DO NOTHING returns no row on PostgreSQL
		return fmt.Errorf("register bootstrap admin token: %w", err)
	}
	return nil
}

// IssueAPIKey creates an API key for a tenant with client (which may be bound
// to a transaction) and returns its secret, shown once.
func IssueAPIKey(ctx context.Context, client *ent.Client, tenantID uuid.UUID, name, createdBy string) (string, *ent.APIKey, error) {
	secret, err := newSecret(APIKeyPrefix)
	if err != nil {
		return "", nil, err
	}
	k, err := client.APIKey.Create().
		SetTenantID(tenantID).SetName(name).SetPrefix(Display(secret)).SetSecretHash(Hash(secret)).
		SetCreatedBy(createdBy).
		Save(tenantd.SystemContext(ctx))
	if err != nil {
		return "", nil, fmt.Errorf("issue API key: %w", err)
	}
	return secret, k, nil
}

// AdminTokens lists the admin and partner tokens, newest first.
func (s *Service) AdminTokens(ctx context.Context) ([]*ent.AdminToken, error) {
	return s.client.AdminToken.Query().Order(ent.Desc(admintoken.FieldCreatedAt)).All(tenantd.SystemContext(ctx))
}

// RevokeAdminToken revokes the admin or partner token whose id or display
// prefix is ref, and publishes the revocation in the same transaction, so
// that the token's WebSockets close on every replica. Revoking a revoked
// token changes nothing.
//
// Returns NOT_FOUND if no token matches, INVALID_INPUT if a prefix matches
// more than one.
func (s *Service) RevokeAdminToken(ctx context.Context, ref string) (*ent.AdminToken, error) {
	var t *ent.AdminToken
	err := s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		sys := tenantd.SystemContext(ctx)
		q := tx.Ent.AdminToken.Query()
		if id, err := uuid.Parse(ref); err == nil {
			q = q.Where(admintoken.ID(id))
		} else {
			q = q.Where(admintoken.Prefix(ref))
		}
		ts, err := q.All(sys)
		if err != nil {
			return err
		}
		switch len(ts) {
		case 0:
			return tenantd.Errorf(tenantd.ENOTFOUND, "no admin token with id or prefix %q", ref)
		case 1:
		default:
			return tenantd.Invalid("token", "%d tokens have the prefix %q; give the id", len(ts), ref)
		}
		t = ts[0]
		if t.RevokedAt != nil {
			return nil
		}
		if t, err = tx.Ent.AdminToken.UpdateOne(t).Where(admintoken.RevokedAtIsNil()).SetRevokedAt(tenantd.Now(s.clock)).Save(sys); err != nil {
			if ent.IsNotFound(err) { // revoked concurrently
				t, err = tx.Ent.AdminToken.Get(sys, ts[0].ID)
				return err
			}
			return fmt.Errorf("revoke admin token: %w", err)
		}
		return s.events.PublishTx(ctx, tx, events.Event{Kind: events.KindTokenRevoked, KeyID: t.ID})
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// Check reports whether the credential behind v still authenticates: a
// long-lived connection asks before each new subscription.
//
// Returns UNAUTHENTICATED if the token or key was revoked or no longer
// exists.
func (s *Service) Check(ctx context.Context, v tenantd.Viewer) error {
	sys := tenantd.SystemContext(ctx)
	var (
		ok  bool
		err error
	)
	switch v.Role {
	case tenantd.RoleTenant:
		ok, err = s.client.APIKey.Query().Where(apikey.ID(v.TokenID), apikey.RevokedAtIsNil()).Exist(sys)
	case tenantd.RoleAdmin, tenantd.RolePartner:
		ok, err = s.client.AdminToken.Query().Where(admintoken.ID(v.TokenID), admintoken.RevokedAtIsNil()).Exist(sys)
	default:
		return tenantd.Errorf(tenantd.EUNAUTHENTICATED, "a %s viewer has no credential to check", v.Role)
	}
	if err != nil {
		return fmt.Errorf("check credential %s: %w", v.TokenID, err)
	}
	if !ok {
		return ErrRevoked
	}
	return nil
}

// ErrRevoked is the answer to a credential that was revoked after it
// opened a connection.
var ErrRevoked = tenantd.Errorf(tenantd.EUNAUTHENTICATED, "the credential of this connection was revoked")

// revokedChunk bounds the ids of one query of Revoked: well under SQLite's
// and PostgreSQL's limits on bound parameters.
const revokedChunk = 500

// Revoked returns those of the given admin-token and API-key ids that no
// longer authenticate (revoked, or gone), with one primary-key query per
// table and chunk of ids.
func (s *Service) Revoked(ctx context.Context, adminTokenIDs, apiKeyIDs []uuid.UUID) ([]uuid.UUID, error) {
	sys := tenantd.SystemContext(ctx)
	var out []uuid.UUID
	for chunk := range slices.Chunk(adminTokenIDs, revokedChunk) {
		valid, err := s.client.AdminToken.Query().Where(admintoken.IDIn(chunk...), admintoken.RevokedAtIsNil()).IDs(sys)
		if err != nil {
			return nil, fmt.Errorf("check admin tokens: %w", err)
		}
		out = appendMissing(out, chunk, valid)
	}
	for chunk := range slices.Chunk(apiKeyIDs, revokedChunk) {
		valid, err := s.client.APIKey.Query().Where(apikey.IDIn(chunk...), apikey.RevokedAtIsNil()).IDs(sys)
		if err != nil {
			return nil, fmt.Errorf("check API keys: %w", err)
		}
		out = appendMissing(out, chunk, valid)
	}
	return out, nil
}

// appendMissing appends the ids of asked that are not in found.
func appendMissing(out, asked, found []uuid.UUID) []uuid.UUID {
	if len(found) == len(asked) {
		return out
	}
	ok := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		ok[id] = true
	}
	for _, id := range asked {
		if !ok[id] {
			out = append(out, id)
		}
	}
	return out
}
