package wsdriver_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver/wsdrivertest"
)

// The one conformance suite, run against every store (as River runs
// riverdrivertest against every driver).

func TestPostgresPool(t *testing.T) {
	t.Parallel()
	db := postgres(t)
	wsdrivertest.Exercise(t, wsdriver.NewPostgresPool(db), db)
}

func TestPostgresSchema(t *testing.T) {
	t.Parallel()
	db := postgres(t)
	wsdrivertest.Exercise(t, wsdriver.NewPostgresSchema(db, nil), db)
}

func TestSQLitePool(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	wsdrivertest.Exercise(t, wsdriver.NewSQLitePool(db), db)
}

func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.SQLite)
	d := wsdriver.NewSQLiteFile(filepath.Join(t.TempDir(), "data"))
	t.Cleanup(func() { d.Close() })
	wsdrivertest.Exercise(t, d, db)
}

func postgres(t *testing.T) *store.DB {
	t.Helper()
	if !slices.Contains(storetest.Kinds(t), storetest.Postgres) {
		t.Skip("TENANTD_TEST_POSTGRES=skip")
	}
	return storetest.New(t, storetest.Postgres)
}
