package pgtest_test

import (
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("ping %s: %v", dsn, err)
	}
	return db
}

func userTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestNewReturnsDistinctEmptyDatabases(t *testing.T) {
	dsnA, dsnB := pgtest.New(t), pgtest.New(t)
	if dsnA == dsnB {
		t.Fatalf("New returned the same DSN twice: %s", dsnA)
	}
	for _, dsn := range []string{dsnA, dsnB} {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("DSN %q is not a URL: %v", dsn, err)
		}
		if u.Scheme != "postgres" || u.Query().Get("sslmode") != "disable" ||
			!strings.HasPrefix(strings.TrimPrefix(u.Path, "/"), pgtest.DBPrefix) {
			t.Errorf("unexpected DSN form: %s", dsn)
		}
	}

	a, b := open(t, dsnA), open(t, dsnB)
	var nameA, nameB string
	if err := a.QueryRow(`SELECT current_database()`).Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(`SELECT current_database()`).Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB {
		t.Fatalf("both DSNs connect to database %q", nameA)
	}
	for _, db := range []*sql.DB{a, b} {
		if tables := userTables(t, db); len(tables) != 0 {
			t.Fatalf("new database is not empty: %v", tables)
		}
	}

	if _, err := a.Exec(`CREATE TABLE only_in_a (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(`INSERT INTO only_in_a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if got := userTables(t, a); len(got) != 1 || got[0] != "public.only_in_a" {
		t.Fatalf("tables in A = %v, want [public.only_in_a]", got)
	}
	if got := userTables(t, b); len(got) != 0 {
		t.Fatalf("table created in A is visible in B: %v", got)
	}
	if _, err := b.Exec(`SELECT 1 FROM only_in_a`); err == nil {
		t.Fatal("querying A's table through B succeeded")
	}
}

func TestNewDropsDatabaseOnCleanup(t *testing.T) {
	var dsn string
	var outer *sql.DB
	t.Run("inner", func(t *testing.T) {
		dsn = pgtest.New(t)
		// Not closed before the inner test ends: DROP DATABASE ... WITH
		// (FORCE) must cope with the open connection.
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		outer = db
		if _, err := db.Exec(`CREATE TABLE t (x int)`); err != nil {
			t.Fatal(err)
		}
	})
	if outer != nil {
		defer outer.Close()
	}
	if dsn == "" {
		return
	}
	u, _ := url.Parse(dsn)
	name := strings.TrimPrefix(u.Path, "/")
	// Another fresh database on the same server is a handy place to look.
	probe := open(t, pgtest.New(t))
	var exists bool
	if err := probe.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after its test finished", name)
	}
}

func TestParallel(t *testing.T) {
	for i := 0; i < 4; i++ {
		t.Run("p", func(t *testing.T) {
			t.Parallel()
			db := open(t, pgtest.New(t))
			if _, err := db.Exec(`CREATE TABLE t (x int)`); err != nil {
				t.Fatal(err)
			}
		})
	}
}
