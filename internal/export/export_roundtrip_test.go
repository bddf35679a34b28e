package export_test

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/apikey"
	entexport "github.com/tenantd/tenantd/ent/export"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// sampleDocs are documents whose text is hard to carry: quotes, commas,
// newlines of both kinds, tabs, non-ASCII, HTML.
var sampleDocs = map[string]string{
	"plain":             "the first document, in plain words",
	`quotes, "commas"`:  "a \"quoted\" text, with commas, and 'single' quotes",
	"lines":             "line one\nline two\r\nline three\r\n\r\nend\ttab",
	"unicode ✓ ünïcode": "é à ß 日本語 🙂 — the end",
	"<html>":            "<script>alert('x')</script> & ampersands",
}

// normalized is records reduced to what an import must keep (ids differ),
// in a stable order.
func normalized(recs []map[string]any, keys ...string) []string {
	var out []string
	for _, r := range recs {
		var parts []string
		for _, k := range keys {
			b, _ := json.Marshal(r[k])
			parts = append(parts, string(b))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

// TestRoundTrip exports a tenant (pool and silo, both formats, both
// stores), checks the archive against its manifest and the tenant's data,
// imports it as a new tenant, exports that one and finds the same
// documents, query log and milestones.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db, export.Hooks{})
		for _, plan := range []string{plans.Starter, plans.Pro} {
			for _, format := range []export.Format{export.JSON, export.CSV} {
				t.Run(plan+"/"+string(format), func(t *testing.T) {
					roundTrip(t, b, plan, format)
				})
			}
		}
	})
}

func roundTrip(t *testing.T, b *bundle, plan string, format export.Format) {
	id := b.tenant(t, plan)
	b.fill(t, id, sampleDocs, "document", "quoted", "nothing-matches-this")
	exp := b.export(t, id, string(format))
	require.Equal(t, entexport.StatusREADY, exp.Status)
	require.NotNil(t, exp.ExpiresAt)
	require.Equal(t, exp.ReadyAt.Add(export.DefaultTTL), *exp.ExpiresAt, "expires after the TTL")

	// The archive: its digest and size are the row's; each file's are the
	// manifest's; manifest.json is last.
	raw, err := os.ReadFile(b.archivePath(exp))
	require.NoError(t, err)
	require.Equal(t, *exp.Sha256, hexSHA(raw))
	require.EqualValues(t, len(raw), exp.SizeBytes)
	c := readArchive(t, b.archivePath(exp))
	require.Equal(t, export.FileManifest, c.names[len(c.names)-1], "the manifest is the last entry")
	require.Equal(t, 1, c.manifest.FormatVersion)
	require.Equal(t, id, c.manifest.TenantID)
	require.Equal(t, format, c.manifest.Format)
	require.Equal(t, b.clock.Now().UTC(), c.manifest.ExportedAt.UTC(), "exportedAt is the injected clock's")
	require.Len(t, c.manifest.Files, len(c.names)-1, "the manifest lists every other file")
	for _, f := range c.manifest.Files {
		require.Equal(t, hexSHA(c.files[f.Name]), f.SHA256, f.Name)
		require.EqualValues(t, len(c.files[f.Name]), f.Bytes, f.Name)
	}
	require.Len(t, exp.Files, len(c.manifest.Files), "the row keeps the manifest's file list")

	// Every document with its exact content.
	docs := c.records(t, export.Documents)
	require.Len(t, docs, len(sampleDocs))
	for _, d := range docs {
		require.Equal(t, sampleDocs[d["title"].(string)], d["content"], d["title"])
	}
	require.Len(t, c.records(t, export.QueryLog), 3)
	var profile export.TenantRecord
	require.NoError(t, json.Unmarshal(c.files[export.FileTenant], &profile))
	require.Equal(t, id, profile.ID)
	require.Equal(t, plan, profile.Plan)
	require.Equal(t, "ACTIVE", profile.State)
	require.NotEmpty(t, profile.Email)
	require.EqualValues(t, len(sampleDocs), profile.Usage.Documents)
	trs := c.records(t, export.Transitions)
	require.Len(t, trs, 3, "signup, provision, activate")
	require.Equal(t, "signed up by Ada", trs[0]["reason"], "the history's free text is the tenant's own data")
	ops := c.records(t, export.Operations)
	require.Len(t, ops, 1, "the export's own operation")
	require.Len(t, c.records(t, export.Milestones), 2, "first upload and first query (this test's signup records no milestones)")

	// API keys: metadata only.
	keys := c.records(t, export.APIKeys)
	require.Len(t, keys, 1)
	k, err := b.db.Ent.APIKey.Query().Where(apikey.TenantID(id)).Only(sys)
	require.NoError(t, err)
	require.Equal(t, k.Prefix, keys[0]["prefix"])
	require.False(t, strings.Contains(string(raw), k.SecretHash), "no secret hash anywhere in the archive")
	for _, body := range c.files {
		require.False(t, strings.Contains(string(body), k.SecretHash), "no secret hash in any file")
	}

	// Import: a new tenant with the same data.
	before := tenantCount(t, b.db)
	res, err := b.svc.ImportFile(sys, b.archivePath(exp), export.ImportOptions{Slug: "copy-" + uuid.NewString()[:8], Actor: admin})
	require.NoError(t, err)
	require.Equal(t, before+1, tenantCount(t, b.db))
	require.NotEqual(t, id, res.Tenant.ID)
	require.Equal(t, id, res.SourceTenantID)
	require.Equal(t, tenantd.StateActive, res.Tenant.State)
	require.EqualValues(t, len(sampleDocs), res.Documents)
	require.EqualValues(t, 3, res.QueryLog)
	require.NotEmpty(t, res.APIKey)
	v, err := b.auth.Authenticate(sys, res.APIKey)
	require.NoError(t, err, "the new owner key works")
	require.Equal(t, res.Tenant.ID, v.TenantID)
	u, err := b.ws.Usage(sys, res.Tenant.ID)
	require.NoError(t, err)
	require.EqualValues(t, len(sampleDocs), u.Documents, "usage counts the imported documents")
	hits, err := b.ws.Search(sys, res.Tenant.ID, "quoted", 5)
	require.NoError(t, err)
	require.NotEmpty(t, hits, "imported documents are searchable")

	// Export the copy: the same documents, query log and milestones.
	copyExp := b.export(t, res.Tenant.ID, string(format))
	c2 := readArchive(t, b.archivePath(copyExp))
	require.Equal(t, normalized(docs, "title", "content", "sizeBytes", "createdAt"),
		normalized(c2.records(t, export.Documents), "title", "content", "sizeBytes", "createdAt"))
	log1 := c.records(t, export.QueryLog)
	require.Equal(t, normalized(log1, "query", "hits", "createdAt"), normalized(c2.records(t, export.QueryLog)[:len(log1)], "query", "hits", "createdAt"))
	require.Equal(t, normalized(c.records(t, export.Milestones), "name", "occurredAt"),
		normalized(c2.records(t, export.Milestones), "name", "occurredAt"))
	for _, d := range c2.records(t, export.Documents) {
		for _, o := range docs {
			require.NotEqual(t, o["id"], d["id"], "imported documents have ids of their own")
		}
	}
}

// TestSnapshotConsistency writes to the tenant while its export reads:
// the archive holds the workspace as it was when the snapshot began —
// none of the new document, and counts that agree with each other.
func TestSnapshotConsistency(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var b *bundle
		wrote := 0
		b = setup(t, db, export.Hooks{InSnapshot: func(ctx context.Context, tenantID uuid.UUID) {
			// The tenant uploads and searches while its export runs.
			_, _, err := b.ws.Upload(sys, tenantID, "written during the export", "late words")
			require.NoError(t, err)
			_, err = b.ws.Search(sys, tenantID, "late", 5)
			require.NoError(t, err)
			wrote++
		}})
		for _, plan := range []string{plans.Starter, plans.Pro} {
			t.Run(plan, func(t *testing.T) {
				id := b.tenant(t, plan)
				b.fill(t, id, map[string]string{"one": "first", "two": "second"}, "first")
				exp := b.export(t, id, "JSON")
				require.Positive(t, wrote, "the hook wrote during the export")
				c := readArchive(t, b.archivePath(exp))
				docs := c.records(t, export.Documents)
				require.Len(t, docs, 2, "the document written during the export is not in it")
				for _, d := range docs {
					require.NotEqual(t, "written during the export", d["title"])
				}
				require.Len(t, c.records(t, export.QueryLog), 1, "nor is the search made during it")
				var profile export.TenantRecord
				require.NoError(t, json.Unmarshal(c.files[export.FileTenant], &profile))
				require.EqualValues(t, 2, profile.Usage.Documents, "the usage counters are of the same snapshot")
				require.EqualValues(t, 1, profile.Usage.Queries)
				u, err := b.ws.Usage(sys, id)
				require.NoError(t, err)
				require.EqualValues(t, 3, u.Documents, "the write did happen")
			})
		}
	})
}
