package server_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// column is a table's column, as the database catalog names it.
type column struct{ schema, table, name string }

// catalogColumns returns every column of every table of tenantd's database
// (PostgreSQL: all schemas but the system's; SQLite: the main file) for
// which keep says yes, given the column's declared type.
func catalogColumns(t *testing.T, db *sql.DB, postgres bool, keep func(name, typ string) bool) []column {
	t.Helper()
	var out []column
	if postgres {
		rows, err := db.Query(`SELECT c.table_schema, c.table_name, c.column_name, c.data_type
			FROM information_schema.columns c JOIN information_schema.tables t
			  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
			WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var c column
			var typ string
			require.NoError(t, rows.Scan(&c.schema, &c.table, &c.name, &typ))
			if keep(c.name, typ) {
				out = append(out, c)
			}
		}
		require.NoError(t, rows.Err())
		return out
	}
	rows, err := db.Query(`SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY 1, 2`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var c column
		var typ string
		require.NoError(t, rows.Scan(&c.table, &c.name, &typ))
		c.schema = "main"
		if keep(c.name, typ) {
			out = append(out, c)
		}
	}
	require.NoError(t, rows.Err())
	return out
}

func (c column) ref(postgres bool) string {
	if postgres {
		return fmt.Sprintf("%q.%q", c.schema, c.table)
	}
	return fmt.Sprintf("%q", c.table)
}

// requireNothingLeft proves a purge: in every table with a tenant_id
// column (found through the catalog, not a list) no row of the tenant is
// left — but its hash chain (state_transitions, whose free text is erased)
// and the one PURGE operation that did it — and none of the secrets (the
// tenant's email, name, slug, the free-text reasons given) is in any text
// or JSON column of any table.
func requireNothingLeft(t *testing.T, srv *servertest.Server, tenantID uuid.UUID, secrets ...string) {
	t.Helper()
	pg := srv.Kind == storetest.Postgres
	db := storetest.Owner(t, srv.DB()) // the owner: row-level security would hide the rows
	param := "?"
	if pg {
		param = "$1"
	}
	tables := catalogColumns(t, db, pg, func(name, _ string) bool { return name == "tenant_id" })
	require.NotEmpty(t, tables)
	checked := []string{}
	for _, c := range tables {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE tenant_id = %s", c.ref(pg), param)
		require.NoError(t, db.QueryRow(q, tenantID.String()).Scan(&n), q)
		checked = append(checked, c.table)
		switch c.table {
		case "state_transitions":
			require.Positive(t, n, "the hash chain stays")
		case "operations":
			var kind string
			require.Equal(t, 1, n, "only the PURGE operation stays")
			require.NoError(t, db.QueryRow(fmt.Sprintf("SELECT kind FROM %s WHERE tenant_id = %s", c.ref(pg), param), tenantID.String()).Scan(&kind))
			require.Equal(t, "PURGE", kind)
		default:
			require.Zero(t, n, "%s.%s still holds %d rows of the purged tenant", c.schema, c.table, n)
		}
	}
	t.Logf("no rows left in %d tables with tenant_id: %s", len(checked), strings.Join(checked, ", "))

	for _, secret := range secrets {
		require.Empty(t, textHits(t, srv, secret), "%q is still in the database", secret)
	}
	t.Logf("none of %d secrets in any text column", len(secrets))
}

// textHits returns the columns (schema.table.column) of every text or JSON
// column of every table that hold secret.
func textHits(t *testing.T, srv *servertest.Server, secret string) []string {
	t.Helper()
	require.NotEmpty(t, secret)
	pg := srv.Kind == storetest.Postgres
	db := storetest.Owner(t, srv.DB())
	param := "?"
	if pg {
		param = "$1"
	}
	texts := catalogColumns(t, db, pg, func(_, typ string) bool {
		typ = strings.ToLower(typ)
		if pg {
			return typ == "text" || typ == "character varying" || typ == "jsonb" || typ == "json" || typ == "character"
		}
		return typ == "" || strings.Contains(typ, "text") || strings.Contains(typ, "char") || strings.Contains(typ, "json") || strings.Contains(typ, "clob")
	})
	require.NotEmpty(t, texts)
	var hits []string
	for _, c := range texts {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE CAST(%q AS TEXT) LIKE %s", c.ref(pg), c.name, param)
		require.NoError(t, db.QueryRow(q, "%"+secret+"%").Scan(&n), q)
		if n > 0 {
			hits = append(hits, c.schema+"."+c.table+"."+c.name)
		}
	}
	return hits
}
