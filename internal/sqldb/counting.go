package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// Counts is the SQL work sent to every database this package opened since the process started
// (the read model, the key store, the built-in stores and a replay's fresh read model). The
// benchmark reads it before and after a phase; the cost is an atomic add per statement, so it
// is always on.
type Counts struct {
	// Statements executed: each Exec or Query on a connection, a transaction or a prepared
	// statement, whether it succeeded or not. A multi-row INSERT is one; a COPY is one however
	// many rows it carries; preparing a statement is none (executing it is). BEGIN, COMMIT and
	// ROLLBACK are not statements here: they are Transactions.
	Statements uint64
	// Transactions begun.
	Transactions uint64
}

var counts struct{ statements, transactions atomic.Uint64 }

// Executed returns the SQL work counted so far.
func Executed() Counts {
	return Counts{Statements: counts.statements.Load(), Transactions: counts.transactions.Load()}
}

// Sub is the work done between before and c.
func (c Counts) Sub(before Counts) Counts {
	return Counts{Statements: c.Statements - before.Statements, Transactions: c.Transactions - before.Transactions}
}

// openCounted opens a pool on the registered driver name (sqlite or postgres) whose connections
// count their statements and transactions. sqlx keeps the driver's name, so its bind type and
// DriverName() are what sqlx.Open would have given.
func openCounted(driverName, dsn string) (*sqlx.DB, error) {
	probe, err := sql.Open(driverName, "") // resolves the registered driver; connects to nothing
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	var inner driver.Connector = dsnConnector{dsn: dsn, drv: drv}
	if dc, ok := drv.(driver.DriverContext); ok {
		// As sql.Open does: the DSN is parsed now, so a malformed one fails here.
		if inner, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sqlx.NewDb(sql.OpenDB(countingConnector{inner}), driverName), nil
}

// dsnConnector is sql.Open's connector for a driver without OpenConnector.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

type countingConnector struct{ inner driver.Connector }

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{inner: conn}, nil
}

func (c countingConnector) Driver() driver.Driver { return c.inner.Driver() }

// countingConn forwards every optional interface database/sql looks for, answering as
// database/sql would for an inner connection that lacks one (driver.ErrSkip makes it fall back
// to Prepare, which is then counted at the statement).
type countingConn struct{ inner driver.Conn }

var (
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	// lib/pq sends COPY ... FROM STDIN when it prepares it, and each Exec then only queues a
	// row (the last, without arguments, ends the COPY): one statement in all.
	isCopy := isCopyStatement(query)
	if isCopy {
		counts.statements.Add(1)
	}
	return &countingStmt{inner: st, conn: c.inner, isCopy: isCopy}, nil
}

func isCopyStatement(query string) bool {
	q := strings.TrimSpace(query)
	return len(q) >= 5 && strings.EqualFold(q[:5], "COPY ")
}

func (c *countingConn) Close() error { return c.inner.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		if opts.ReadOnly || opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
			return nil, errors.New("sqldb: the driver supports no transaction options")
		}
		//lint:ignore SA1019 the fallback database/sql itself uses for a driver without BeginTx
		tx, err = c.inner.Begin()
	}
	if err == nil {
		counts.transactions.Add(1)
	}
	return tx, err
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := e.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		counts.statements.Add(1)
	}
	return r, err
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := q.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		counts.statements.Add(1)
	}
	return r, err
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

// countingStmt counts each execution of a prepared statement (a COPY was counted once, when
// prepared).
type countingStmt struct {
	inner  driver.Stmt
	conn   driver.Conn
	isCopy bool
}

var (
	_ driver.StmtExecContext   = (*countingStmt)(nil)
	_ driver.StmtQueryContext  = (*countingStmt)(nil)
	_ driver.NamedValueChecker = (*countingStmt)(nil)
)

func (s *countingStmt) Close() error  { return s.inner.Close() }
func (s *countingStmt) NumInput() int { return s.inner.NumInput() }

func (s *countingStmt) count() {
	if !s.isCopy {
		counts.statements.Add(1)
	}
}

func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.count()
	//lint:ignore SA1019 forwards the deprecated method, only reached through it
	return s.inner.Exec(args)
}

func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.count()
	//lint:ignore SA1019 forwards the deprecated method, only reached through it
	return s.inner.Query(args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.count()
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the driver has nothing newer
	return s.inner.Exec(vals)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.count()
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the driver has nothing newer
	return s.inner.Query(vals)
}

// CheckNamedValue asks the statement, then its connection, as database/sql does when a
// statement has no checker of its own (a wrapper that has one would otherwise hide the
// connection's: lib/pq's passes pq.Array through).
func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	if ch, ok := s.conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func namedToValues(named []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		if nv.Name != "" {
			return nil, fmt.Errorf("sqldb: the driver does not support named parameter %s", nv.Name)
		}
		out[i] = nv.Value
	}
	return out, nil
}
