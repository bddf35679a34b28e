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
	onPostgres(t, func(db *store.DB) { wsdrivertest.Exercise(t, wsdriver.NewPostgresPool(db), db) })
}

func TestPostgresSchema(t *testing.T) {
	t.Parallel()
	onPostgres(t, func(db *store.DB) { wsdrivertest.Exercise(t, wsdriver.NewPostgresSchema(db, nil), db) })
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

// onPostgres runs fn on a PostgreSQL database when the suite runs on
// PostgreSQL (always under CI=true: storetest.Kinds fails the run without
// it; outside CI, TENANTD_TEST_POSTGRES=skip leaves the PostgreSQL stores out).
func onPostgres(t *testing.T, fn func(db *store.DB)) {
	t.Helper()
	if slices.Contains(storetest.Kinds(t), storetest.Postgres) {
		fn(storetest.New(t, storetest.Postgres))
	}
}
