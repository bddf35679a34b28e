package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/keyset"
)

// Signed links (an export's download link, a win-back mail's reactivation
// and unsubscribe links) carry an HMAC-SHA256 keyed with the tenant's
// signing key, its KeySet. The key lives in the database, so every replica
// verifies what any replica signed, and a purge, which deletes it, voids
// every link of the tenant at once. Each kind of link signs under its own
// purpose string, so a signature for one is never valid for another.

// EnsureSigningKey issues the tenant's signing key in the caller's
// transaction if it has none (a tenant provisioned before keys existed).
// Concurrent callers are safe: the second insert does nothing.
func EnsureSigningKey(ctx context.Context, client *ent.Client, tenantID uuid.UUID) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("make a signing key: %w", err)
	}
	err := client.KeySet.Create().SetTenantID(tenantID).SetSigningKey(key).
		OnConflictColumns(keyset.FieldTenantID).DoNothing().Exec(tenantd.SystemContext(ctx))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("issue the tenant's signing key: %w", err)
	}
	return nil
}

// SigningKey returns the tenant's signing key.
//
// Returns NOT_FOUND if the tenant has none (never provisioned, or purged).
func SigningKey(ctx context.Context, client *ent.Client, tenantID uuid.UUID) ([]byte, error) {
	ks, err := client.KeySet.Query().Where(keyset.TenantID(tenantID)).Only(tenantd.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "tenant %s has no signing key", tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("read the tenant's signing key: %w", err)
	}
	return ks.SigningKey, nil
}

// SignLink returns the base64url HMAC of a link of the given purpose for
// id, valid until expires (Unix seconds).
func SignLink(key []byte, purpose string, id uuid.UUID, expires int64) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s\x00%s\x00%d", purpose, id, expires)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// LinkSignatureValid reports, in constant time, whether sig is
// SignLink(key, purpose, id, expires).
func LinkSignatureValid(key []byte, purpose string, id uuid.UUID, expires int64, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(SignLink(key, purpose, id, expires)))
}

// LinkToken is the token of a signed link carried in one URL parameter:
// "<id>.<expires>.<sig>", with sig = SignLink(key, purpose, id, expires).
// The win-back and restore links use it.
func LinkToken(key []byte, purpose string, id uuid.UUID, expires int64) string {
	return fmt.Sprintf("%s.%d.%s", id, expires, SignLink(key, purpose, id, expires))
}

// ParseLinkToken splits a LinkToken, refusing one longer than maxLen before
// any other work; ok is false for anything that is not one. It checks the
// form only: LinkSignatureValid checks the signature.
func ParseLinkToken(token string, maxLen int) (id uuid.UUID, expires int64, sig string, ok bool) {
	if len(token) > maxLen {
		return uuid.Nil, 0, "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return uuid.Nil, 0, "", false
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return uuid.Nil, 0, "", false
	}
	expires, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return uuid.Nil, 0, "", false
	}
	return id, expires, parts[2], true
}
