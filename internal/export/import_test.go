package export_test

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/export"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestImportRefusesBadArchives: a truncated, tampered or incomplete
// archive is refused with INVALID_INPUT naming the file, and nothing is
// written.
func TestImportRefusesBadArchives(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := setup(t, db, export.Hooks{})
		id := b.tenant(t, plans.Starter)
		b.fill(t, id, sampleDocs, "document")
		for _, format := range []export.Format{export.JSON, export.CSV} {
			t.Run(string(format), func(t *testing.T) {
				exp := b.export(t, id, string(format))
				src := b.archivePath(exp)
				docs := export.FileName(export.Documents, format)
				raw, err := os.ReadFile(src)
				require.NoError(t, err)
				write := func(body []byte) string {
					p := filepath.Join(t.TempDir(), "bad.zip")
					require.NoError(t, os.WriteFile(p, body, 0o600))
					return p
				}
				cases := []struct {
					name, path, file string
				}{
					// Cut short: the ZIP's directory (at its end) is gone.
					{"truncated archive", write(raw[:len(raw)*2/3]), ""},
					// A document's text changed, the manifest left as it was.
					{"tampered document", rezip(t, src, func(name string, body []byte) []byte {
						if name == docs {
							return bytes.Replace(body, []byte("first document"), []byte("forged document"), 1)
						}
						return body
					}), docs},
					// The last record cut off a file.
					{"truncated file", rezip(t, src, func(name string, body []byte) []byte {
						if name == docs {
							return body[:bytes.LastIndexByte(body[:len(body)-1], '\n')+1]
						}
						return body
					}), docs},
					// A file dropped.
					{"missing file", rezip(t, src, func(name string, body []byte) []byte {
						if name == export.FileName(export.QueryLog, format) {
							return nil
						}
						return body
					}), export.FileName(export.QueryLog, format)},
					// A file the manifest does not know.
					{"extra file", addFile(t, src, "notes.txt", "hello"), "notes.txt"},
					// The stored (compressed) bytes of an entry flipped: its
					// CRC-32 no longer matches.
					{"flipped bytes", write(flipInEntry(t, raw)), export.FileTenant},
					// A profile edited.
					{"tampered profile", rezip(t, src, func(name string, body []byte) []byte {
						if name == export.FileTenant {
							return bytes.Replace(body, []byte(`"plan": "starter"`), []byte(`"plan": "enterprise"`), 1)
						}
						return body
					}), export.FileTenant},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						before := tenantCount(t, b.db)
						_, err := b.svc.ImportFile(sys, tc.path, export.ImportOptions{Slug: "bad-import"})
						require.Error(t, err)
						e := tenantd.AsError(err)
						require.Equal(t, tenantd.EINVALID, e.Code, "%v", err)
						require.Equal(t, "archive", e.Field)
						if tc.file != "" {
							require.True(t, strings.HasPrefix(e.Message, tc.file+":") || strings.Contains(e.Message, tc.file), "the error names %s: %s", tc.file, e.Message)
						}
						require.Equal(t, before, tenantCount(t, b.db), "nothing is written")
					})
				}
			})
		}
	})
}

// flipInEntry flips a byte inside the compressed data of the first entry
// (documents come after tenant.json; the first entry is tenant.json).
func flipInEntry(t *testing.T, raw []byte) []byte {
	t.Helper()
	out := append([]byte(nil), raw...)
	// A local file header is 30 bytes plus the name; "tenant.json" is 11.
	require.Equal(t, "PK\x03\x04", string(out[:4]))
	nameLen := int(out[26]) | int(out[27])<<8
	extraLen := int(out[28]) | int(out[29])<<8
	at := 30 + nameLen + extraLen + 5
	out[at] ^= 0x55
	return out
}

// addFile copies an archive with one more file, before the manifest.
func addFile(t *testing.T, src, name, body string) string {
	t.Helper()
	c := readArchive(t, src)
	out := filepath.Join(t.TempDir(), "added.zip")
	f, err := os.Create(out)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	put := func(n string, b []byte) {
		w, err := zw.Create(n)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	for _, n := range c.names {
		if n == export.FileManifest {
			put(name, []byte(body))
		}
		put(n, c.files[n])
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return out
}

// TestImportSlug: a taken slug is refused before anything is written; a
// slug option picks another.
func TestImportSlug(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	b := setup(t, db, export.Hooks{})
	id := b.tenant(t, plans.Pro)
	b.fill(t, id, map[string]string{"a": "alpha"})
	exp := b.export(t, id, "JSON")
	before := tenantCount(t, db)
	_, err := b.svc.ImportFile(sys, b.archivePath(exp), export.ImportOptions{})
	require.Equal(t, tenantd.EINVALID, tenantd.ErrorCode(err))
	require.Equal(t, "slug", tenantd.AsError(err).Field, "the archive's slug is the exported tenant's, still taken: %v", err)
	_, err = b.svc.ImportFile(sys, b.archivePath(exp), export.ImportOptions{Slug: "Not A Slug"})
	require.Equal(t, "slug", tenantd.AsError(err).Field)
	require.Equal(t, before, tenantCount(t, db))
	res, err := b.svc.ImportFile(sys, b.archivePath(exp), export.ImportOptions{Slug: "a-new-home"})
	require.NoError(t, err)
	require.Equal(t, "a-new-home", *res.Tenant.Slug)
}
