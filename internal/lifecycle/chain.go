package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// Link is the part of a history row that the hash covers.
type Link struct {
	TenantID    uuid.UUID
	Seq         int
	Event       tenantd.Event
	From        *tenantd.State
	To          tenantd.State
	TriggeredBy tenantd.Trigger
	Actor       string
	Reason      string
	Metadata    map[string]any
	OccurredAt  time.Time
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
