package graph

import (
	"context"
	"sort"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/retention"
)

// purgeCertificate reads a purged tenant's certificate from its final
// transition, where the chain holds it.
func (r *tenantResolver) purgeCertificate(ctx context.Context, t *ent.Tenant) (*PurgeCertificate, error) {
	if t.State != tenantd.StatePurged {
		return nil, nil
	}
	tr, err := r.client().StateTransition.Query().
		Where(statetransition.TenantID(t.ID), statetransition.EventEQ(tenantd.EventPurge)).
		Order(ent.Desc(statetransition.FieldSeq)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := retention.CertificateOf(tr)
	if err != nil {
		return nil, err
	}
	out := &PurgeCertificate{Operation: c.Operation, PurgedAt: c.PurgedAt, Sha256: c.Sha256, FilesRemoved: c.FilesRemoved,
		Workspace: c.Workspace, JSON: c.JSON, RowsRemoved: []*TableRows{}}
	for table, n := range c.RowsRemoved {
		out.RowsRemoved = append(out.RowsRemoved, &TableRows{Table: table, Rows: n})
	}
	sort.Slice(out.RowsRemoved, func(i, j int) bool { return out.RowsRemoved[i].Table < out.RowsRemoved[j].Table })
	return out, nil
}
