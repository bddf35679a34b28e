package retention

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd/ent"
)

// Certificate is a purge certificate as the final transition of a purged
// tenant's chain holds it.
type Certificate struct {
	Operation    uuid.UUID
	PurgedAt     time.Time
	Sha256       string
	RowsRemoved  map[string]int
	FilesRemoved []string
	Workspace    map[string]any
	// JSON is the certificate as hashed.
	JSON string
}

// CertificateOf reads the certificate of a purge transition and checks it
// against the SHA-256 the chain recorded beside it.
func CertificateOf(tr *ent.StateTransition) (*Certificate, error) {
	raw, ok := tr.Metadata["purgeCertificate"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("transition %d of tenant %s holds no purge certificate", tr.Seq, tr.TenantID)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	want, _ := tr.Metadata["certificateSha256"].(string)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("the purge certificate of tenant %s does not match its SHA-256 (%s, recorded %s)", tr.TenantID, got, want)
	}
	var c struct {
		Operation    uuid.UUID      `json:"operation"`
		PurgedAt     time.Time      `json:"purgedAt"`
		RowsRemoved  map[string]int `json:"rowsRemoved"`
		FilesRemoved []string       `json:"filesRemoved"`
		Workspace    map[string]any `json:"workspace"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read the purge certificate of tenant %s: %w", tr.TenantID, err)
	}
	if c.FilesRemoved == nil {
		c.FilesRemoved = []string{}
	}
	return &Certificate{Operation: c.Operation, PurgedAt: c.PurgedAt, Sha256: want, RowsRemoved: c.RowsRemoved,
		FilesRemoved: c.FilesRemoved, Workspace: c.Workspace, JSON: string(b)}, nil
}
