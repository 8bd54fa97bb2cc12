package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/service"
)

// floorTables are the scratch tables of the floor measurement, children first (the order they
// are emptied and dropped in). They live in the stores database beside erasure's own tables,
// so the floor pays for the same engine, settings and disk.
var floorTables = []string{"bench_floor_faces", "bench_floor_bindings", "bench_floor_persons"}

// sqlFloor is the baseline the deletion's ratio divides by: the same rows as p (persons, their
// faces and permission bindings) inserted into scratch tables, then deleted by plain SQL in one
// transaction; only the deletion is timed. The scratch tables are dropped afterwards.
func sqlFloor(ctx context.Context, svc *service.Service, p Population) (float64, error) {
	db := svc.DBs.Stores
	stmts := []string{
		`DROP TABLE IF EXISTS bench_floor_faces`, `DROP TABLE IF EXISTS bench_floor_bindings`, `DROP TABLE IF EXISTS bench_floor_persons`,
		`CREATE TABLE bench_floor_persons (person_id TEXT PRIMARY KEY, name TEXT NOT NULL)`,
		`CREATE TABLE bench_floor_faces (face_id TEXT PRIMARY KEY, person_id TEXT NOT NULL, feature BYTEA)`,
		`CREATE INDEX bench_floor_faces_person ON bench_floor_faces (person_id)`,
		`CREATE TABLE bench_floor_bindings (person_id TEXT NOT NULL, permission_group_id TEXT NOT NULL, PRIMARY KEY (person_id, permission_group_id))`,
	}
	if svc.DBs.Dialect == sqldb.SQLite {
		for i := range stmts {
			stmts[i] = strings.ReplaceAll(stmts[i], "BYTEA", "BLOB")
		}
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("create the scratch tables: %w", err)
		}
	}
	defer func() {
		for _, t := range floorTables {
			_, _ = db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+t)
		}
	}()
	// Persons a multi-row INSERT: 200, fewer when each brings many bound parameters, so that no
	// statement passes SQLite's limit of 32,766 (PostgreSQL's is 65,535): 100 permission groups
	// are 200 parameters a person.
	const maxParams = 32766
	perInsert := min(200, maxParams/max(2, 3*p.Faces, 2*p.PermissionGroups))
	err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for from := 0; from < p.Persons; from += perInsert {
			var pr, f, b []string
			var pa, fa, ba []any
			for i := from; i < min(from+perInsert, p.Persons); i++ {
				id := "f" + strconv.Itoa(i)
				pr, pa = append(pr, "(?, ?)"), append(pa, id, "Bench Person")
				for j := range p.Faces {
					f, fa = append(f, "(?, ?, ?)"), append(fa, id+"-"+strconv.Itoa(j), id, []byte{1, 2, 3})
				}
				for j := range p.PermissionGroups {
					b, ba = append(b, "(?, ?)"), append(ba, id, "g"+strconv.Itoa(j))
				}
			}
			for _, ins := range []struct {
				q    string
				rows []string
				args []any
			}{
				{"INSERT INTO bench_floor_persons VALUES ", pr, pa},
				{"INSERT INTO bench_floor_faces VALUES ", f, fa},
				{"INSERT INTO bench_floor_bindings VALUES ", b, ba},
			} {
				if len(ins.rows) == 0 {
					continue
				}
				if _, err := tx.ExecContext(ctx, tx.Rebind(ins.q+strings.Join(ins.rows, ",")), ins.args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("fill the scratch tables: %w", err)
	}
	start := time.Now()
	err = sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`DELETE FROM bench_floor_bindings WHERE person_id IN (SELECT person_id FROM bench_floor_persons)`,
			`DELETE FROM bench_floor_faces WHERE person_id IN (SELECT person_id FROM bench_floor_persons)`,
			`DELETE FROM bench_floor_persons`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete from the scratch tables: %w", err)
	}
	return time.Since(start).Seconds(), nil
}
