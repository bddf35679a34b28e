package lifecycle

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Link is the part of a history row that the hash covers.
//
// Chain version 1 (rows written before erasable text) hashes Reason and
// Metadata as they are. Version 2 hashes TextHash instead of Reason: a
// salted SHA-256 of the row's erasable text (Reason and Private, see
// TextHash), kept beside the text; purge erases the text and its salt, and
// the chain still verifies, holding nothing of what was erased. Metadata
// (structured facts, never personal data) stays inside the hash.
type Link struct {
	TenantID    uuid.UUID
	Seq         int
	Event       tenantd.Event
	From        *tenantd.State
	To          tenantd.State
	TriggeredBy tenantd.Trigger
	Actor       string
	Reason      string // version 1 only
	Metadata    map[string]any
	OccurredAt  time.Time
	// Version is the chain version (0 and 1: version 1).
	Version int
	// TextHash is the commitment to the erasable text (version 2).
	TextHash string
}

// ChainVersion is the version of the rows lifecycle writes.
const ChainVersion = 2

// canonicalLinkV2 is the canonical encoding of a version 2 row.
type canonicalLinkV2 struct {
	Version     int            `json:"chain_version"`
	TenantID    string         `json:"tenant_id"`
	Seq         int            `json:"seq"`
	Event       string         `json:"event"`
	From        string         `json:"from_state"`
	To          string         `json:"to_state"`
	TriggeredBy string         `json:"triggered_by"`
	Actor       string         `json:"actor"`
	TextHash    string         `json:"text_hash"`
	Metadata    map[string]any `json:"metadata"`
	OccurredAt  string         `json:"occurred_at"`
}

// TextHash commits to a row's erasable text: the hex SHA-256 over the salt
// (hex, random per row: the text cannot be guessed from its hash) and the
// canonical encoding of the reason and the private details.
func TextHash(salt, reason string, private map[string]any) (string, error) {
	if len(private) == 0 {
		private = nil
	}
	b, err := json.Marshal(struct {
		Reason  string         `json:"reason"`
		Private map[string]any `json:"private"`
	}{reason, private})
	if err != nil {
		return "", fmt.Errorf("encode erasable text: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// newSalt returns a random salt for TextHash.
func newSalt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// canonicalLink is Link's canonical encoding: fixed field order, UTC time at
// microsecond precision, metadata with sorted keys (encoding/json sorts map
// keys). Changing it breaks every stored chain; add a version field first.
type canonicalLink struct {
	TenantID    string         `json:"tenant_id"`
	Seq         int            `json:"seq"`
	Event       string         `json:"event"`
	From        string         `json:"from_state"`
	To          string         `json:"to_state"`
	TriggeredBy string         `json:"triggered_by"`
	Actor       string         `json:"actor"`
	Reason      string         `json:"reason"`
	Metadata    map[string]any `json:"metadata"`
	OccurredAt  string         `json:"occurred_at"`
}

// Hash returns the hex SHA-256 over prevHash and the canonical encoding of l.
func Hash(prevHash string, l Link) (string, error) {
	if l.Version >= 2 {
		c := canonicalLinkV2{
			Version: l.Version, TenantID: l.TenantID.String(), Seq: l.Seq, Event: string(l.Event),
			To: string(l.To), TriggeredBy: string(l.TriggeredBy), Actor: l.Actor, TextHash: l.TextHash,
			Metadata:   l.Metadata,
			OccurredAt: l.OccurredAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano),
		}
		if l.From != nil {
			c.From = string(*l.From)
		}
		if len(c.Metadata) == 0 {
			c.Metadata = nil
		}
		return chainHash(prevHash, c)
	}
	c := canonicalLink{
		TenantID:    l.TenantID.String(),
		Seq:         l.Seq,
		Event:       string(l.Event),
		To:          string(l.To),
		TriggeredBy: string(l.TriggeredBy),
		Actor:       l.Actor,
		Reason:      l.Reason,
		Metadata:    l.Metadata,
		OccurredAt:  l.OccurredAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano),
	}
	if l.From != nil {
		c.From = string(*l.From)
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	return chainHash(prevHash, c)
}

func chainHash(prevHash string, c any) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode history row: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// normalizeMetadata round-trips m through JSON so that what is hashed is
// exactly what the database gives back (numbers as float64, and so on).
func normalizeMetadata(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, tenantd.Invalid("metadata", "metadata must be JSON-encodable: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return out, nil
}
