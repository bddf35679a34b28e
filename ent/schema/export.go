package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Export is a tenant's data export archive (GDPR Art. 15 and 20): made by an
// EXPORT operation, kept in the export store until it expires, then deleted
// by a sweep. The archive itself lives in the export store; this row says
// where, what it holds and until when its download link works.
type Export struct{ ent.Schema }

// Mixin of the Export.
func (Export) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}, TimeMixin{}} }

// Fields of the Export.
func (Export) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.UUID("operation_id", uuid.UUID{}).Unique().Immutable().
			Comment("the EXPORT operation that makes the archive"),
		field.Enum("format").Values("JSON", "CSV").Immutable(),
		field.Enum("status").Values("RUNNING", "READY", "FAILED", "EXPIRED").Default("RUNNING"),
		field.String("location").Optional().Nillable().
			Comment("where the export store keeps the archive (a file name under the export directory)"),
		field.Int64("size_bytes").Default(0).NonNegative(),
		field.String("sha256").Optional().Nillable().Comment("hex SHA-256 of the whole archive"),
		field.JSON("files", []map[string]any{}).Optional().
			Comment("the manifest's file list: name, records, bytes, sha256"),
		field.String("requested_by").Comment("the actor who asked, as the audit trail names them"),
		field.Time("ready_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable().Comment("when the download link stops working and the sweep deletes the archive"),
		field.Time("deleted_at").Optional().Nillable().Comment("when the archive was deleted from the store"),
		field.String("lease_owner").Optional().Nillable().
			Comment("the run of the EXPORT step writing the archive: a second run waits while the lease holds"),
		field.Time("lease_until").Optional().Nillable().Comment("until when the lease holds unless renewed"),
	}
}

// Indexes of the Export.
func (Export) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "created_at"),
		index.Fields("expires_at"), // the expiry sweep reads the due ones only
	}
}

// Annotations of the Export.
func (Export) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Export.
func (Export) Policy() ent.Policy { return tenantScopedPolicy() }

// ExportDownload logs one download of an export archive: who, when.
type ExportDownload struct{ ent.Schema }

// Mixin of the ExportDownload.
func (ExportDownload) Mixin() []ent.Mixin { return []ent.Mixin{IDMixin{}} }

// Fields of the ExportDownload.
func (ExportDownload) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		field.UUID("export_id", uuid.UUID{}).Immutable(),
		field.String("actor").Immutable().
			Comment("who downloaded: the credential as the audit trail names it, or link:<export> for a signed link"),
		field.Int64("bytes").Default(0).NonNegative().Immutable(),
		field.Time("downloaded_at").Default(Unset).Immutable(),
	}
}

// Indexes of the ExportDownload.
func (ExportDownload) Indexes() []ent.Index {
	return []ent.Index{index.Fields("export_id", "downloaded_at"), index.Fields("tenant_id")}
}

// Annotations of the ExportDownload.
func (ExportDownload) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExportDownload.
func (ExportDownload) Policy() ent.Policy { return tenantScopedPolicy() }
