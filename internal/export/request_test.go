package export_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestRequest: what may be exported, by whom, and idempotency keys.
func TestRequest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db, export.Hooks{})
		id := b.tenant(t, plans.Starter)
		user := lifecycle.Actor{By: tenantd.TriggerUser, Name: "key:tdk_test"}
		asTenant := tenantd.NewContext(sys, tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: id, TokenID: uuid.New(), Actor: user.Name})

		_, _, err := b.svc.Request(sys, id, "XML", admin, "")
		require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
		require.Equal(t, "format", tenantd.AsError(err).Field)

		other := b.tenant(t, plans.Starter)
		_, _, err = b.svc.Request(asTenant, other, "JSON", user, "")
		require.Equal(t, tenantd.ENOTFOUND, tenantd.ErrorCode(err), "another tenant's is NOT_FOUND")

		// Idempotency: the same key and input answer the first operation;
		// other input with it is a mismatch.
		op1, exp1, err := b.svc.Request(asTenant, id, "JSON", user, "export-key-0001")
		require.NoError(t, err)
		op2, exp2, err := b.svc.Request(asTenant, id, "JSON", user, "export-key-0001")
		require.NoError(t, err)
		require.Equal(t, op1.ID, op2.ID)
		require.Equal(t, exp1.ID, exp2.ID)
		_, _, err = b.svc.Request(asTenant, id, "CSV", user, "export-key-0001")
		require.Equal(t, tenantd.EIDEMPOTENCYMISMATCH, tenantd.ErrorCode(err))
		// One export of a tenant at a time.
		_, _, err = b.svc.Request(asTenant, id, "CSV", user, "")
		require.Equal(t, tenantd.ECONFLICT, tenantd.ErrorCode(err))
		require.NoError(t, b.ops.Work(sys, op1.ID, 1, 3))
		got, err := b.svc.ExportOf(asTenant, op1.ID)
		require.NoError(t, err)
		require.Equal(t, "READY", string(got.Status))
		_, err = b.svc.ExportOf(tenantd.NewContext(sys, tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: other, Actor: "x"}), op1.ID)
		require.Equal(t, tenantd.ENOTFOUND, tenantd.ErrorCode(err), "another tenant cannot see it")

		// PENDING_DELETION: an admin may export (export, then delete), the
		// tenant may not.
		_, err = b.machine.Fire(sys, lifecycle.Request{TenantID: id, Event: tenantd.EventRequestDeletion, Actor: admin})
		require.NoError(t, err)
		_, _, err = b.svc.Request(asTenant, id, "JSON", user, "")
		require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err))
		require.Contains(t, tenantd.ErrorMessage(err), "PENDING_DELETION")
		b.export(t, id, "JSON")

		// PURGED: the data no longer exists.
		_, err = b.machine.Fire(sys, lifecycle.Request{TenantID: id, Event: tenantd.EventPurge, Actor: admin})
		require.NoError(t, err)
		_, _, err = b.svc.Request(sys, id, "JSON", admin, "")
		require.Equal(t, tenantd.EFORBIDDEN, tenantd.ErrorCode(err))
		require.Contains(t, tenantd.ErrorMessage(err), "no longer exists")
	})
}

// TestArchiveMatchesSchemas validates every file of a real archive, of
// both formats, against the JSON Schemas tenantd ships.
func TestArchiveMatchesSchemas(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	b := setup(t, db, export.Hooks{})
	id := b.tenant(t, plans.Pro)
	b.fill(t, id, sampleDocs, "document", "quoted")
	_, _, err := b.svc.Request(sys, id, "JSON", admin, "") // a RUNNING operation in the archive too
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemas := map[string]*jsonschema.Schema{}
	entries, err := fs.ReadDir(export.Schemas(), ".")
	require.NoError(t, err)
	require.Len(t, entries, 14, "manifest, tenant and 6 record files in 2 formats")
	for _, e := range entries {
		body, err := fs.ReadFile(export.Schemas(), e.Name())
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, c.AddResource("file:///"+e.Name(), doc))
		sch, err := c.Compile("file:///" + e.Name())
		require.NoError(t, err, e.Name())
		schemas[e.Name()] = sch
	}
	validate := func(t *testing.T, name string, v any) {
		t.Helper()
		// Through JSON, as a consumer reads it.
		b, err := json.Marshal(v)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		require.NoError(t, err)
		require.NoError(t, schemas[export.SchemaOf(name)].Validate(doc), "%s: %s", name, b)
	}
	// The first export is still RUNNING: work it, then export again to see
	// a finished one among the operations.
	ops, err := db.Ent.Operation.Query().All(sys)
	require.NoError(t, err)
	for _, op := range ops {
		if op.Kind == tenantd.OpExport && !op.Status.Done() {
			require.NoError(t, b.ops.Work(sys, op.ID, 1, 3))
		}
	}
	for _, format := range []string{"JSON", "CSV"} {
		t.Run(format, func(t *testing.T) {
			exp := b.export(t, id, format)
			a := readArchive(t, b.archivePath(exp))
			for _, name := range a.names {
				var recs []map[string]any
				switch {
				case name == export.FileManifest || name == export.FileTenant:
					var m map[string]any
					require.NoError(t, json.Unmarshal(a.files[name], &m))
					recs = []map[string]any{m}
				case format == "CSV":
					recs = csvRows(t, a.files[name])
				default:
					recs = jsonLines(t, a.files[name])
				}
				require.NotEmpty(t, recs, name)
				for _, r := range recs {
					validate(t, name, r)
				}
			}
		})
	}
	// A schema refuses what it must: an API key record with a secret hash.
	bad := map[string]any{"id": uuid.NewString(), "name": "k", "prefix": "tdk_x", "createdBy": "x",
		"createdAt": "2026-11-20T09:00:00Z", "lastUsedAt": nil, "revokedAt": nil, "secretHash": "abc"}
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(must(json.Marshal(bad))))
	require.Error(t, schemas["api_keys.schema.json"].Validate(doc), "no field beyond the metadata")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
