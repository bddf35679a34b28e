package graph

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/readiness"
	"github.com/tenantd/tenantd/internal/workspace"
)

// tenantKey returns the caller of the workspace API: a tenant API key.
func tenantKey(ctx context.Context) (tenantd.Viewer, error) {
	v, err := viewer(ctx)
	if err != nil {
		return v, err
	}
	if v.Role != tenantd.RoleTenant {
		return v, tenantd.Errorf(tenantd.EFORBIDDEN, "the workspace API takes a tenant API key: a tenant's data is its own")
	}
	return v, nil
}

// workspaceReadable reports whether a tenant's workspace can be read.
func workspaceReadable(t *ent.Tenant) error { return lifecycle.CanReadTenant(t) }

func readinessOf(rep *readiness.Report) *Readiness {
	return &Readiness{Status: CheckStatus(rep.Status), RanAt: rep.RanAt, Checks: rep.Checks}
}

// documentCursor reads a documents cursor: the ID and the creation time in
// microseconds since the epoch.
func documentCursor(c *entgql.Cursor[uuid.UUID]) *workspace.Cursor {
	if c == nil {
		return nil
	}
	var us int64
	switch v := c.Value.(type) {
	case int64:
		us = v
	case int8:
		us = int64(v)
	case int16:
		us = int64(v)
	case int32:
		us = int64(v)
	case uint64:
		us = int64(v)
	case uint32:
		us = int64(v)
	case float64:
		us = int64(v)
	}
	return &workspace.Cursor{ID: c.ID, CreatedAt: time.UnixMicro(us).UTC()}
}

func cursorOf(d *workspace.Document) entgql.Cursor[uuid.UUID] {
	return entgql.Cursor[uuid.UUID]{ID: d.ID, Value: d.CreatedAt.UnixMicro()}
}

func documentConnection(p *workspace.DocumentPage) *DocumentConnection {
	conn := &DocumentConnection{TotalCount: int(p.TotalCount), PageInfo: &entgql.PageInfo[uuid.UUID]{}, Edges: []*DocumentEdge{}}
	conn.PageInfo.HasNextPage, conn.PageInfo.HasPreviousPage = p.HasNextPage, p.HasPreviousPage
	for _, d := range p.Documents {
		conn.Edges = append(conn.Edges, &DocumentEdge{Cursor: cursorOf(d), Node: d})
	}
	if n := len(p.Documents); n > 0 {
		start, end := cursorOf(p.Documents[0]), cursorOf(p.Documents[n-1])
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn
}
