package projections

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/sqldb"
)

// Audit projects the audit trail: one entry per event of the log, each chained to the previous
// one by SHA-256, so that a changed, removed or inserted entry breaks the chain from there on.
// Entries hold pseudonymous IDs, times, actors, actions and outcomes: never a name (not even a
// group's), never biometric data.
type Audit struct{}

var _ Projector = Audit{}

// GenesisHash is the previous hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditTimeFormat is how an entry's time is written, hashed and stored: fixed width, so that the
// text sorts as the time does and reads back byte for byte as it was hashed.
const AuditTimeFormat = "2006-01-02T15:04:05.000000Z"

// AuditEntry is one entry of the audit trail. Its JSON form without prev_hash and hash is the
// canonical entry that is hashed.
type AuditEntry struct {
	Seq                uint64   `json:"seq"`
	Time               string   `json:"time"`
	EventID            string   `json:"event_id"`
	Actor              string   `json:"actor"`
	Action             string   `json:"action"`
	RequestID          string   `json:"request_id"`
	DeletionID         string   `json:"deletion_id,omitempty"`
	PersonIDs          []string `json:"person_ids,omitempty"`
	GroupIDs           []string `json:"group_ids,omitempty"`
	PermissionGroupIDs []string `json:"permission_group_ids,omitempty"`
	Outcome            string   `json:"outcome"`
	PrevHash           string   `json:"prev_hash"`
	Hash               string   `json:"hash"`
}

// Canonical returns the bytes that are hashed: the entry's JSON without prev_hash and hash,
// exactly as encoding/json writes it (TestAuditCanonicalIsJSON), built by hand because a replay
// hashes every event of the log.
func (e AuditEntry) Canonical() []byte { return e.appendCanonical(nil) }

func (e AuditEntry) appendCanonical(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = appendField(b, "time", e.Time)
	b = appendField(b, "event_id", e.EventID)
	b = appendField(b, "actor", e.Actor)
	b = appendField(b, "action", e.Action)
	b = appendField(b, "request_id", e.RequestID)
	if e.DeletionID != "" {
		b = appendField(b, "deletion_id", e.DeletionID)
	}
	b = appendList(b, "person_ids", e.PersonIDs)
	b = appendList(b, "group_ids", e.GroupIDs)
	b = appendList(b, "permission_group_ids", e.PermissionGroupIDs)
	b = appendField(b, "outcome", e.Outcome)
	return append(b, '}')
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendList(b []byte, name string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendString writes v as encoding/json does; strings it would escape go through it.
func appendString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// ChainHash returns the hash of an entry whose predecessor's hash is prev:
// hex(SHA-256(prev || "\n" || canonical entry)).
func ChainHash(prev string, e AuditEntry) string {
	var buf [512]byte
	b := append(buf[:0], prev...)
	b = append(b, '\n')
	sum := sha256.Sum256(e.appendCanonical(b))
	return hex.EncodeToString(sum[:])
}

// Chained returns e linked after prev, with its hash.
func (e AuditEntry) Chained(prev string) AuditEntry {
	e.PrevHash = prev
	e.Hash = ChainHash(prev, e)
	return e
}

// AuditEntryFor returns the unchained audit entry of one event.
func AuditEntryFor(r events.Recorded) AuditEntry {
	e := AuditEntry{
		Seq: r.Seq, Time: r.Time.UTC().Format(AuditTimeFormat), EventID: r.ID, Actor: r.Actor,
		Action: r.Type, RequestID: r.CorrelationID, Outcome: "recorded",
	}
	one := func(id string) []string {
		if id == "" {
			return nil
		}
		return []string{id}
	}
	switch d := r.Data.(type) {
	case events.GroupCreated:
		e.GroupIDs, e.Outcome = one(d.GroupID), "group created"
	case events.GroupDeletionRequested:
		e.GroupIDs, e.DeletionID, e.Outcome = one(d.GroupID), d.DeletionID, "group deletion started"
	case events.GroupDeleted:
		e.GroupIDs, e.DeletionID, e.Outcome = one(d.GroupID), d.DeletionID, "group deleted"
	case events.PersonCreated:
		e.PersonIDs, e.GroupIDs, e.PermissionGroupIDs = one(d.PersonID), d.GroupIDs, d.PermissionGroupIDs
		e.Outcome = fmt.Sprintf("person registered with %d faces", len(d.Faces))
	case events.PersonAddedToGroup:
		e.PersonIDs, e.GroupIDs, e.Outcome = one(d.PersonID), one(d.GroupID), "added to group"
	case events.PersonRemovedFromGroup:
		e.PersonIDs, e.GroupIDs, e.DeletionID, e.Outcome = one(d.PersonID), one(d.GroupID), d.DeletionID, "removed from group"
	case events.FaceAdded:
		e.PersonIDs, e.Outcome = one(d.PersonID), "face added"
	case events.FaceDeleted:
		e.PersonIDs, e.Outcome = one(d.PersonID), "face deleted"
	case events.PermissionGroupBound:
		e.PersonIDs, e.PermissionGroupIDs, e.Outcome = one(d.PersonID), one(d.PermissionGroupID), "bound to permission group"
	case events.PermissionGroupUnbound:
		e.PersonIDs, e.PermissionGroupIDs, e.Outcome = one(d.PersonID), one(d.PermissionGroupID), "unbound from permission group"
	case events.PermissionGroupCreated:
		e.PermissionGroupIDs, e.Outcome = one(d.PermissionGroupID), "permission group created"
	case events.PermissionGroupDeletionRequested:
		e.PermissionGroupIDs, e.Outcome = one(d.PermissionGroupID), "permission group deletion started"
	case events.PermissionGroupDeleted:
		e.PermissionGroupIDs, e.Outcome = one(d.PermissionGroupID), "permission group deleted"
	case events.DeletionRequested:
		e.DeletionID, e.PersonIDs, e.GroupIDs = d.DeletionID, d.PersonIDs, one(d.GroupID)
		e.Outcome = fmt.Sprintf("deletion request chunk %d recorded: %d ids, %d refused", d.Chunk, len(d.PersonIDs), len(d.Rejected))
		if d.Last {
			e.Outcome += fmt.Sprintf("; request complete with %d ids", d.Total)
		}
	case events.DeletionChunkDispatched:
		e.DeletionID = d.DeletionID
		e.Outcome = fmt.Sprintf("chunk %d dispatched: %d ids failed", d.Chunk, len(d.Failed))
	case events.PersonDeletionRequested:
		e.PersonIDs, e.DeletionID, e.Outcome = one(d.PersonID), d.DeletionID, "person deletion started"
		switch {
		case d.Joins != "":
			e.Outcome = "joined running deletion " + d.Joins
		case d.ResumeAt != "":
			e.Outcome = "retried from step " + d.ResumeAt
		}
	case events.PermissionGroupsUnbound:
		e.PersonIDs, e.DeletionID = listed(d), d.DeletionID
		if len(d.Persons) == 1 { // as version 1, one person, wrote it: stored trails verify
			e.PermissionGroupIDs = d.Persons[0].PermissionGroupIDs
			e.Outcome = fmt.Sprintf("step unbind_permission_groups done: %d unbound", len(e.PermissionGroupIDs))
			break
		}
		n, lists := 0, make([][]string, len(d.Persons))
		for i, p := range d.Persons {
			lists[i] = p.PermissionGroupIDs
			n += len(p.PermissionGroupIDs)
		}
		e.PermissionGroupIDs = unionOf(lists)
		e.Outcome = fmt.Sprintf("step unbind_permission_groups done for %d persons: %d unbound", len(d.Persons), n)
	case events.FacesPurged:
		e.PersonIDs, e.DeletionID = listed(d), d.DeletionID
		n := 0
		for _, p := range d.Persons {
			n += len(p.FaceIDs)
		}
		e.Outcome = stepOutcome("purge_faces", len(d.Persons), n, "faces purged")
	case events.PhotosPurged:
		e.PersonIDs, e.DeletionID = listed(d), d.DeletionID
		n := 0
		for _, p := range d.Persons {
			n += len(p.PhotoKeys)
		}
		e.Outcome = stepOutcome("purge_photos", len(d.Persons), n, "photos purged")
	case events.DeletionBatchStarted:
		e.PersonIDs, e.DeletionID = listed(d), d.DeletionID
		e.Outcome = fmt.Sprintf("batch %s started: %d persons", d.Batch, len(d.Persons))
	case events.DeletionBatchCompleted:
		e.DeletionID = d.DeletionID
		e.Outcome = fmt.Sprintf("batch %s completed: %d deleted, %d failed, %d cancelled", d.Batch, d.Deleted, d.Failed, d.Cancelled)
	case events.PersonRemovedFromTargets:
		e.PersonIDs, e.DeletionID = one(d.PersonID), d.DeletionID
		e.Outcome = fmt.Sprintf("deleted from targets %s; %d still to confirm", strings.Join(d.Targets, ", "), len(d.Remaining))
	case events.PersonDeleted:
		e.PersonIDs, e.DeletionID, e.Outcome = one(d.PersonID), d.DeletionID, "person deleted; data key destroyed"
	case events.PersonDeletionFailed:
		// The code and the step only: a store's message is free text.
		e.PersonIDs, e.DeletionID = one(d.PersonID), d.DeletionID
		e.Outcome = fmt.Sprintf("failed: %s at step %s", d.Code, d.Step)
		if len(d.Targets) > 0 {
			e.Outcome += " (targets " + strings.Join(d.Targets, ", ") + ")"
		}
	case events.DeletionCancelled:
		e.DeletionID, e.Outcome = d.DeletionID, "deletion cancelled: items not yet past their first step end cancelled"
	case events.PersonDeletionCancelled:
		e.PersonIDs, e.DeletionID, e.Outcome = one(d.PersonID), d.DeletionID, "person deletion cancelled before anything was removed"
	case events.DeletionCompleted:
		e.DeletionID = d.DeletionID
		e.Outcome = fmt.Sprintf("deletion completed: %d total, %d deleted, %d failed, %d cancelled", d.Total, d.Deleted, d.Failed, d.Cancelled)
	}
	return e
}

// stepOutcome is a step event's outcome: for one person exactly as version 1 of the step
// events (one person each) wrote it, so that stored trails verify after the upgrade; for a
// batch, with how many persons it names.
func stepOutcome(step string, persons, n int, what string) string {
	if persons == 1 {
		return fmt.Sprintf("step %s done: %d %s", step, n, what)
	}
	return fmt.Sprintf("step %s done for %d persons: %d %s", step, persons, n, what)
}

// unionOf returns the distinct ids of lists, in the order they first appear.
func unionOf(lists [][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, ids := range lists {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// listed returns the persons a step event lists; one person with no id is none, as version 1's
// entries (one(d.PersonID)) had it.
func listed(data any) []string {
	ids := events.PersonIDsOf(data)
	if len(ids) == 1 && ids[0] == "" {
		return nil
	}
	return ids
}

// Apply appends the batch's entries to the audit trail, chained after the last stored one, and
// indexes them for a person's trail (auditIndex).
func (Audit) Apply(ctx context.Context, tx *sqlx.Tx, batch []events.Recorded) error {
	prev, err := lastAuditHash(ctx, tx)
	if err != nil {
		return err
	}
	entries := make([]AuditEntry, len(batch))
	var ix auditIndex
	for i, r := range batch {
		entries[i] = AuditEntryFor(r).Chained(prev)
		prev = entries[i].Hash
		ix.add(r, entries[i])
	}
	if err := insertRows(ctx, tx, "audit_log", auditColumns, rowsOf(entries), ""); err != nil {
		return fmt.Errorf("insert audit entries: %w", err)
	}
	return ix.insert(ctx, tx)
}

// auditIndex is how a person's trail finds its entries. An entry is listed under each person
// it names (audit_persons), except the entries of a batch's own subject: those are listed once
// under the batch (audit_batches), and a person's request that names its batch carries the
// batch in its row, so the batch's entries are found through it. A bulk's person is then in
// three rows (its chunk, its request, its end) instead of seven, the four batch records
// (start and steps) adding one row per batch, not one per person. An entry found through a
// batch belongs to the person's trail only if it names the person (AuditEntries): a person
// split out of a batch is not in the batch's later steps, as before.
type auditIndex struct {
	persons, batches [][]any
}

func (ix *auditIndex) add(r events.Recorded, e AuditEntry) {
	seq := int64(e.Seq)
	if r.Aggregate == events.AggregateBatch {
		if len(e.PersonIDs) > 0 { // a batch's completion names nobody: no person's trail has it
			ix.batches = append(ix.batches, []any{r.AggregateID, seq})
		}
		return
	}
	batch := ""
	if d, ok := r.Data.(events.PersonDeletionRequested); ok {
		batch = d.Batch
	}
	for _, p := range dedup(e.PersonIDs) {
		ix.persons = append(ix.persons, []any{p, seq, batch})
	}
}

func (ix auditIndex) insert(ctx context.Context, tx *sqlx.Tx) error {
	if err := insertRows(ctx, tx, "audit_persons", []string{"person_id", "seq", "batch"}, ix.persons, " ON CONFLICT DO NOTHING"); err != nil {
		return fmt.Errorf("insert audit persons: %w", err)
	}
	if err := insertRows(ctx, tx, "audit_batches", []string{"batch", "seq"}, ix.batches, " ON CONFLICT DO NOTHING"); err != nil {
		return fmt.Errorf("insert audit batches: %w", err)
	}
	return nil
}

func lastAuditHash(ctx context.Context, tx *sqlx.Tx) (string, error) {
	var prev string
	err := tx.GetContext(ctx, &prev, `SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return GenesisHash, nil
	}
	if err != nil {
		return "", fmt.Errorf("last audit entry: %w", err)
	}
	return prev, nil
}

var auditColumns = []string{"seq", "at", "event_id", "actor", "action", "request_id", "deletion_id",
	"person_ids", "group_ids", "permission_group_ids", "outcome", "prev_hash", "hash"}

func (e AuditEntry) row() []any {
	return []any{int64(e.Seq), e.Time, e.EventID, e.Actor, e.Action, e.RequestID, e.DeletionID,
		idList(e.PersonIDs), idList(e.GroupIDs), idList(e.PermissionGroupIDs), e.Outcome, e.PrevHash, e.Hash}
}

func rowsOf(entries []AuditEntry) [][]any {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		rows[i] = e.row()
	}
	return rows
}

// insertRows inserts rows with multi-row INSERT statements small enough for SQLite's limit on
// bound parameters.
func insertRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any, suffix string) error {
	per := max(1, 900/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(rows); start += per {
		end := min(start+per, len(rows))
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(cols)*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString(one)
			args = append(args, rows[i]...)
		}
		sb.WriteString(suffix)
		if err := execSQL(ctx, tx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func dedup(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// idList stores a list of IDs as a JSON array; IDs never hold quotes or backslashes
// (domain.ValidateID), but an illegal ID refused at intake may: JSON keeps it exact.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

func parseIDList(s string) []string {
	var ids []string
	_ = json.Unmarshal([]byte(s), &ids)
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// AuditFilter selects audit entries; zero fields do not filter.
type AuditFilter struct {
	PersonID  string
	RequestID string // a request's correlation id or a deletion id
	Since     time.Time
	Until     time.Time
	After     uint64 // cursor: entries with a greater sequence
	Limit     int
}

// AuditEntries returns entries matching f, oldest first.
func AuditEntries(ctx context.Context, db *sqlx.DB, f AuditFilter) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	where = append(where, "a.seq > ?")
	args = append(args, int64(f.After))
	if f.PersonID != "" {
		// The entries listed under the person, and those of the batches its requests name
		// (auditIndex); of the latter only those naming the person. Every entry listed under
		// the person names it, so the one test serves both. person_ids is a JSON array, and
		// the person's JSON string, quotes included, matches one element and no other.
		contains := "instr(a.person_ids, ?) > 0"
		if db.DriverName() == sqldb.Postgres {
			contains = "strpos(a.person_ids, ?) > 0"
		}
		where = append(where, `a.seq IN (SELECT seq FROM audit_persons WHERE person_id = ?
			UNION ALL SELECT b.seq FROM audit_persons p JOIN audit_batches b ON b.batch = p.batch
			WHERE p.person_id = ? AND p.batch <> '') AND `+contains)
		quoted, _ := json.Marshal(f.PersonID)
		args = append(args, f.PersonID, f.PersonID, string(quoted))
	}
	if f.RequestID != "" {
		where = append(where, "(a.request_id = ? OR a.deletion_id = ?)")
		args = append(args, f.RequestID, f.RequestID)
	}
	if !f.Since.IsZero() {
		where = append(where, "a.at >= ?")
		args = append(args, f.Since.UTC().Format(AuditTimeFormat))
	}
	if !f.Until.IsZero() {
		where = append(where, "a.at <= ?")
		args = append(args, f.Until.UTC().Format(AuditTimeFormat))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	q := `SELECT ` + strings.Join(prefixed("a.", auditColumns), ", ") + ` FROM audit_log a WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY a.seq LIMIT ?`
	rows, err := db.QueryxContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func prefixed(p string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + c
	}
	return out
}

type scanner interface{ Scan(dest ...any) error }

func scanAuditEntry(s scanner) (AuditEntry, error) {
	var (
		e                   AuditEntry
		seq                 int64
		persons, groups, pg string
	)
	if err := s.Scan(&seq, &e.Time, &e.EventID, &e.Actor, &e.Action, &e.RequestID, &e.DeletionID,
		&persons, &groups, &pg, &e.Outcome, &e.PrevHash, &e.Hash); err != nil {
		return AuditEntry{}, fmt.Errorf("scan audit entry: %w", err)
	}
	e.Seq = uint64(seq)
	e.PersonIDs, e.GroupIDs, e.PermissionGroupIDs = parseIDList(persons), parseIDList(groups), parseIDList(pg)
	return e, nil
}

// AuditBreak is the first place where the stored audit trail and the log disagree.
type AuditBreak struct {
	Seq        uint64 `json:"seq"`
	Reason     string `json:"reason"`
	Stored     string `json:"stored_hash,omitempty"`
	Recomputed string `json:"recomputed_hash,omitempty"`
}

// AuditVerification is the outcome of recomputing the chain from the log.
type AuditVerification struct {
	OK         bool        `json:"ok"`
	Entries    uint64      `json:"entries"`
	Head       string      `json:"head"`       // the hash of the last entry checked
	Checkpoint uint64      `json:"checkpoint"` // the log position the trail was checked up to
	FirstBreak *AuditBreak `json:"first_break,omitempty"`
}

// VerifyAudit recomputes the audit chain from the log up to the read model's checkpoint and
// compares it with the stored trail entry by entry, reporting the first break: an entry
// changed, missing, added or out of order.
func VerifyAudit(ctx context.Context, db *sqlx.DB, log *eventlog.Store, checkpointName string) (AuditVerification, error) {
	if checkpointName == "" {
		checkpointName = "readmodel"
	}
	var cp int64
	if err := db.GetContext(ctx, &cp, db.Rebind(`SELECT seq FROM checkpoints WHERE name = ?`), checkpointName); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditVerification{}, fmt.Errorf("read checkpoint: %w", err)
	}
	v := AuditVerification{OK: true, Head: GenesisHash, Checkpoint: uint64(cp)}
	rows, err := db.QueryxContext(ctx, db.Rebind(`SELECT `+strings.Join(auditColumns, ", ")+` FROM audit_log WHERE seq <= ? ORDER BY seq`), cp)
	if err != nil {
		return v, fmt.Errorf("read audit trail: %w", err)
	}
	defer rows.Close()
	fail := func(b AuditBreak) {
		if v.FirstBreak == nil {
			v.OK, v.FirstBreak = false, &b
		}
	}
	prev := GenesisHash
	err = ReadLog(ctx, log, 1, uint64(cp), 2048, func(batch []events.Recorded) error {
		for _, r := range batch {
			want := AuditEntryFor(r).Chained(prev)
			prev = want.Hash
			if !rows.Next() {
				fail(AuditBreak{Seq: r.Seq, Reason: "entry missing from the audit trail", Recomputed: want.Hash})
				return errStopReading
			}
			got, err := scanAuditEntry(rows)
			if err != nil {
				return err
			}
			switch {
			case got.Seq != want.Seq:
				fail(AuditBreak{Seq: min(got.Seq, want.Seq), Reason: fmt.Sprintf("trail has entry %d where the log has event %d", got.Seq, want.Seq),
					Stored: got.Hash, Recomputed: want.Hash})
			case got.PrevHash != want.PrevHash:
				fail(AuditBreak{Seq: r.Seq, Reason: "entry is not chained to its predecessor", Stored: got.Hash, Recomputed: want.Hash})
			case ChainHash(got.PrevHash, got) != got.Hash:
				fail(AuditBreak{Seq: r.Seq, Reason: "entry was altered after it was hashed", Stored: got.Hash, Recomputed: want.Hash})
			case got.Hash != want.Hash || !equalEntries(got, want):
				fail(AuditBreak{Seq: r.Seq, Reason: "entry differs from what the log records", Stored: got.Hash, Recomputed: want.Hash})
			}
			if v.FirstBreak != nil {
				return errStopReading
			}
			v.Entries++
			v.Head = want.Hash
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopReading) {
		return v, err
	}
	if v.FirstBreak == nil && rows.Next() {
		extra, err := scanAuditEntry(rows)
		if err != nil {
			return v, err
		}
		fail(AuditBreak{Seq: extra.Seq, Reason: "trail has an entry the log does not", Stored: extra.Hash})
	}
	if err := rows.Err(); err != nil || v.FirstBreak != nil {
		return v, err
	}
	// Entries past the checkpoint are the runner's next batch, checked next time, unless they
	// are past the end of the log.
	head, err := log.LastSequence(ctx)
	if err != nil {
		return v, err
	}
	var beyond []int64
	if err := db.SelectContext(ctx, &beyond, db.Rebind(`SELECT seq FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1`), int64(head)); err != nil {
		return v, fmt.Errorf("read audit trail: %w", err)
	}
	if len(beyond) > 0 {
		fail(AuditBreak{Seq: uint64(beyond[0]), Reason: "trail has an entry the log does not"})
	}
	return v, nil
}

func equalEntries(a, b AuditEntry) bool {
	return string(a.Canonical()) == string(b.Canonical())
}

// VerifyEntries checks a run of exported entries on their own: each entry's hash matches its
// content and previous hash, and an entry that follows its predecessor in the log (consecutive
// sequences) is chained to it. It returns the first entry that fails, or -1.
func VerifyEntries(entries []AuditEntry) (int, string) {
	for i, e := range entries {
		if ChainHash(e.PrevHash, e) != e.Hash {
			return i, "hash does not match the entry's content"
		}
		if i > 0 && entries[i-1].Seq >= e.Seq {
			return i, "entries out of order"
		}
		if i > 0 && entries[i-1].Seq+1 == e.Seq && entries[i-1].Hash != e.PrevHash {
			return i, "not chained to the entry before it"
		}
	}
	return -1, ""
}
