// Package storetest gives tests a fresh, migrated and seeded tenantd database
// of each kind: SQLite in a temporary directory and PostgreSQL as a new
// database cloned from a migrated template. One test body runs against both,
// as River runs one suite against every driver.
//
// PostgreSQL is found at TENANTD_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test). If it cannot be reached the test
// fails; outside CI, TENANTD_TEST_POSTGRES=skip runs the SQLite half alone.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for the admin connection
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/migrations"
)

// Kind is a database kind.
type Kind string

// The database kinds.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// AppRole is the PostgreSQL role tests connect as: no SUPERUSER, no
// BYPASSRLS, owner of nothing — so row-level security binds it as it binds
// tenantd in production. The databases belong to the admin user of
// AdminURL, who runs the migrations.
const AppRole = "tenantd_app"

// AdminURL is the PostgreSQL server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("TENANTD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Kinds returns the kinds to run: both, unless PostgreSQL was explicitly
// switched off outside CI.
func Kinds(t testing.TB) []Kind {
	if os.Getenv("TENANTD_TEST_POSTGRES") == "skip" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TENANTD_TEST_POSTGRES=skip is not allowed under CI=true: the suite must run on PostgreSQL")
		}
		return []Kind{SQLite}
	}
	return []Kind{SQLite, Postgres}
}

// Each runs fn as a subtest on a fresh database of every kind.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, k := range Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			fn(t, New(t, k))
		})
	}
}

// New returns a fresh migrated database of kind k with the plans seeded,
// closed and removed when the test ends.
func New(t testing.TB, k Kind) *store.DB {
	t.Helper()
	ctx := context.Background()
	var opts store.Options
	switch k {
	case SQLite:
		opts.DataDir = t.TempDir()
	case Postgres:
		opts.DatabaseURL = NewPostgresDatabase(t)
	default:
		t.Fatalf("unknown kind %q", k)
	}
	db, err := store.Open(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	if k == SQLite {
		_, err = db.Migrate(ctx)
		require.NoError(t, err)
		require.NoError(t, plans.Seed(ctx, db.Ent))
	}
	return db
}

// Owner returns a connection to db as its owner, closed when the test ends:
// on PostgreSQL the admin user (AppRole may not alter tables), on SQLite the
// database's own handle.
func Owner(t testing.TB, db *store.DB) *sql.DB {
	t.Helper()
	if !db.IsPostgres() {
		return db.SQL
	}
	owner, err := sql.Open("pgx", OwnerURL(db.URL))
	require.NoError(t, err)
	t.Cleanup(func() { owner.Close() })
	return owner
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// NewPostgresDatabase creates a migrated, seeded PostgreSQL database for the
// test and returns its URL for AppRole; OwnerURL gives the owner's. The
// database is dropped when the test ends.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate() })
	require.NoError(t, templateErr)

	return createDatabase(t, templateName)
}

// NewEmptyPostgresDatabase creates an empty PostgreSQL database (nothing
// migrated) for the test and returns its URL.
func NewEmptyPostgresDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "template0")
}

func createDatabase(t testing.TB, template string) string {
	t.Helper()
	admin := openAdmin(t)
	name := "tenantd_t_" + randomHex(6)
	_, err := admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + template)
	require.NoError(t, err, "create test database")
	// Database privileges are not copied from the template: silo schemas
	// need CREATE.
	_, err = admin.Exec("GRANT CREATE, CONNECT ON DATABASE " + name + " TO " + AppRole)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		admin.Close()
	})
	return appURL(name)
}

// databaseURL returns the admin's URL of database name on the test server.
func databaseURL(name string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// appURL returns AppRole's URL of database name.
func appURL(name string) string {
	u, err := url.Parse(databaseURL(name))
	if err != nil {
		panic(err)
	}
	u.User = url.User(AppRole)
	return u.String()
}

// OwnerURL returns the owner's (the admin's) URL of the database of an
// AppRole URL, for what only the owner may do: migrations, disabling the
// history trigger to tamper with a row in a test.
func OwnerURL(appDatabaseURL string) string {
	u, err := url.Parse(appDatabaseURL)
	if err != nil {
		panic(err)
	}
	return databaseURL(u.Path[1:])
}

func openAdmin(t testing.TB) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", AdminURL())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "+
			"or set TENANTD_TEST_DATABASE_URL; outside CI, TENANTD_TEST_POSTGRES=skip runs SQLite only", AdminURL(), err)
	}
	return admin
}

// ensureTemplate creates, once per set of migrations, a database with every
// migration applied and the plans seeded, for tests to clone. Test binaries
// of several packages run at once, so creation happens under an advisory lock.
func ensureTemplate() (string, error) {
	ctx := context.Background()
	sum, err := migrationsDigest()
	if err != nil {
		return "", err
	}
	name := "tenantd_tmpl_" + sum[:12] + "_v2" // v2: owned by the admin, used by AppRole
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL is not reachable at %s: %w", AdminURL(), err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7301)"); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock(7301)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	var roleExists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", AppRole).Scan(&roleExists); err != nil {
		return "", err
	}
	if !roleExists {
		if _, err := conn.ExecContext(ctx, "CREATE ROLE "+AppRole+" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"); err != nil {
			return "", fmt.Errorf("create role %s: %w", AppRole, err)
		}
	}
	building := name + "_building"
	_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	_, err = store.Migrate(ctx, store.Options{DatabaseURL: appURL(building), OwnerURL: databaseURL(building)})
	if err == nil {
		var db *store.DB
		if db, err = store.Open(ctx, store.Options{DatabaseURL: databaseURL(building), MaxConns: 2}); err == nil {
			err = plans.Seed(ctx, db.Ent)
			db.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

// migrationsDigest names the template after the migrations and the plan
// catalog, so a change to either builds a new one.
func migrationsDigest() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.Postgres(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Postgres(), path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	catalog, _ := json.Marshal(plans.Catalog)
	h.Write(catalog)
	return hex.EncodeToString(h.Sum(nil)), err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
