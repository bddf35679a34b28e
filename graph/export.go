package graph

import (
	"context"

	"github.com/tenantd/tenantd/ent"
)

// dataExport is the API's view of an export: its signed link while READY
// and its download count.
func (r *Resolver) dataExport(ctx context.Context, e *ent.Export) (*DataExport, error) {
	if e == nil {
		return nil, nil
	}
	out := &DataExport{ID: e.ID, Format: ExportFormat(e.Format), Status: DataExportStatus(e.Status), CreatedAt: e.CreatedAt,
		ReadyAt: e.ReadyAt, ExpiresAt: e.ExpiresAt, SizeBytes: float64(e.SizeBytes), Sha256: e.Sha256, Files: []*ExportFile{}}
	link, err := r.Exports.LinkContext(ctx, e)
	if err != nil {
		return nil, err
	}
	if link != "" {
		out.DownloadURL = &link
	}
	if out.Downloads, err = r.Exports.Downloads(ctx, e.ID); err != nil {
		return nil, err
	}
	num := func(v any) float64 { f, _ := v.(float64); return f }
	for _, f := range e.Files {
		name, _ := f["name"].(string)
		sum, _ := f["sha256"].(string)
		out.Files = append(out.Files, &ExportFile{Name: name, Records: num(f["records"]), Bytes: num(f["bytes"]), Sha256: sum})
	}
	return out, nil
}
