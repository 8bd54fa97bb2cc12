package receipts_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/receipts"
)

// memLog is a log in memory: recorded events, read by subject as eventlog.Store's Load reads them.
type memLog []events.Recorded

func (l memLog) Load(_ context.Context, aggregate, id string) ([]events.Recorded, uint64, error) {
	var out []events.Recorded
	var last uint64
	for _, r := range l {
		if r.Aggregate == aggregate && r.AggregateID == id {
			out = append(out, r)
			last = r.Seq
		}
	}
	return out, last, nil
}

// record is one event of a memLog: sequence seq, at t0 + seq seconds.
func record(seq uint64, aggregate, id string, data any) events.Recorded {
	env, err := events.New(aggregate, id, data, events.Meta{CorrelationID: "req-1", Time: t0.Add(time.Duration(seq) * time.Second)})
	if err != nil {
		panic(err)
	}
	return events.Recorded{Seq: seq, Envelope: env}
}

// batchOf is a person's deletion in batch b with another person q: its subject holds the
// request and the end, the batch's subject the steps, each listing both with what each lost.
func batchOf(b string) memLog {
	pp := func(p string, n int) events.PersonPermissionGroups {
		return events.PersonPermissionGroups{PersonID: p, PermissionGroupIDs: []string{"a", "b", "c"}[:n]}
	}
	return memLog{
		record(1, events.AggregatePerson, "p", created()),
		record(2, events.AggregatePerson, "q", events.PersonCreated{PersonID: "q", Name: "x"}),
		record(3, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1", Batch: b}),
		record(4, events.AggregatePerson, "q", events.PersonDeletionRequested{PersonID: "q", DeletionID: "d1", Batch: b}),
		record(5, events.AggregateBatch, b, events.DeletionBatchStarted{DeletionID: "d1", Batch: b,
			Persons: []events.BatchPerson{{PersonID: "p"}, {PersonID: "q"}}}),
		record(6, events.AggregateBatch, b, events.PermissionGroupsUnbound{DeletionID: "d1", Batch: b,
			Persons: []events.PersonPermissionGroups{pp("q", 3), pp("p", 2)}}),
		record(7, events.AggregateBatch, b, events.FacesPurged{DeletionID: "d1", Batch: b,
			Persons: []events.PersonFaces{{PersonID: "q", FaceIDs: []string{"g1", "g2"}}, {PersonID: "p", FaceIDs: []string{"f"}}}}),
		record(8, events.AggregateBatch, b, events.PhotosPurged{DeletionID: "d1", Batch: b,
			Persons: []events.PersonPhotos{{PersonID: "q", PhotoKeys: []string{"h1", "h2"}}, {PersonID: "p", PhotoKeys: []string{"k"}}}}),
		record(9, events.AggregatePerson, "p", events.PersonDeleted{PersonID: "p", DeletionID: "d1"}),
		record(10, events.AggregatePerson, "q", events.PersonDeleted{PersonID: "q", DeletionID: "d1"}),
		record(11, events.AggregateBatch, b, events.DeletionBatchCompleted{DeletionID: "d1", Batch: b, Deleted: 2}),
	}
}

type stepSeen struct {
	Step  string
	Event string
	Seq   uint64
	Count int
}

func stepsOf(rc receipts.Receipt) []stepSeen {
	var out []stepSeen
	for _, s := range rc.Steps {
		n := -1
		if s.Count != nil {
			n = *s.Count
		}
		out = append(out, stepSeen{s.Step, s.Event, s.Seq, n})
		if t, err := time.Parse(receipts.TimeFormat, s.At); err != nil || !t.Equal(t0.Add(time.Duration(s.Seq)*time.Second)) {
			panic(fmt.Sprintf("step %+v: its time is not its event's", s))
		}
	}
	return out
}

// A person whose steps its batch recorded gets them from the batch's subject: the batch
// event's sequence and time, and the count of what this person lost.
func TestReceiptFromBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	full := []stepSeen{
		{"requested", "PersonDeletionRequested", 3, -1},
		{"unbind_permission_groups", "PermissionGroupsUnbound", 6, 2},
		{"purge_faces", "FacesPurged", 7, 1},
		{"purge_photos", "PhotosPurged", 8, 1},
		{"delete_person", "PersonDeleted", 9, -1},
	}
	tests := []struct {
		name   string
		log    memLog
		person string
		want   []stepSeen
	}{
		{"a batch's person", batchOf("d1_0_0"), "p", full},
		{"the other person, its own counts", batchOf("d1_0_0"), "q", []stepSeen{
			{"requested", "PersonDeletionRequested", 4, -1},
			{"unbind_permission_groups", "PermissionGroupsUnbound", 6, 3},
			{"purge_faces", "FacesPurged", 7, 2},
			{"purge_photos", "PhotosPurged", 8, 2},
			{"delete_person", "PersonDeleted", 10, -1},
		}},
		{"split out failing, then retried on its own subject", memLog{
			record(1, events.AggregatePerson, "p", created()),
			record(3, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1", Batch: "b"}),
			record(5, events.AggregateBatch, "b", events.DeletionBatchStarted{DeletionID: "d1", Batch: "b", Persons: []events.BatchPerson{{PersonID: "p"}, {PersonID: "q"}}}),
			record(6, events.AggregateBatch, "b", events.PermissionGroupsUnbound{DeletionID: "d1", Batch: "b",
				Persons: []events.PersonPermissionGroups{{PersonID: "p", PermissionGroupIDs: []string{"a"}}, {PersonID: "q", PermissionGroupIDs: []string{}}}}),
			record(7, events.AggregatePerson, "p", events.PersonDeletionFailed{PersonID: "p", DeletionID: "d1", Code: "STEP_FAILED", Step: "purge_faces"}),
			record(8, events.AggregateBatch, "b", events.FacesPurged{DeletionID: "d1", Batch: "b", Persons: []events.PersonFaces{{PersonID: "q", FaceIDs: []string{}}}}),
			record(9, events.AggregateBatch, "b", events.PhotosPurged{DeletionID: "d1", Batch: "b", Persons: []events.PersonPhotos{{PersonID: "q", PhotoKeys: []string{}}}}),
			record(10, events.AggregateBatch, "b", events.DeletionBatchCompleted{DeletionID: "d1", Batch: "b", Deleted: 1, Failed: 1}),
			record(11, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1", ResumeAt: "purge_faces"}),
			record(12, events.AggregatePerson, "p", facesStep("p", "d1", []string{"f"})),
			record(13, events.AggregatePerson, "p", photosStep("p", "d1", []string{"k"})),
			record(14, events.AggregatePerson, "p", events.PersonDeleted{PersonID: "p", DeletionID: "d1"}),
		}, "p", []stepSeen{
			{"requested", "PersonDeletionRequested", 3, -1},
			{"unbind_permission_groups", "PermissionGroupsUnbound", 6, 1},
			{"failed", "PersonDeletionFailed", 7, -1},
			{"retried", "PersonDeletionRequested", 11, -1},
			{"purge_faces", "FacesPurged", 12, 1},
			{"purge_photos", "PhotosPurged", 13, 1},
			{"delete_person", "PersonDeleted", 14, -1},
		}},
		{"a batch of an earlier deletion is not this one's", append(batchOf("d1_0_0"),
			record(20, events.AggregatePerson, "p", created()),
			record(21, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d2", Batch: "d2_0_0"}),
			record(22, events.AggregateBatch, "d2_0_0", events.DeletionBatchStarted{DeletionID: "d2", Batch: "d2_0_0", Persons: []events.BatchPerson{{PersonID: "p"}}}),
			record(23, events.AggregateBatch, "d2_0_0", unboundStep("p", "d2", []string{})),
			record(24, events.AggregateBatch, "d2_0_0", facesStep("p", "d2", []string{})),
			record(25, events.AggregateBatch, "d2_0_0", photosStep("p", "d2", []string{})),
			record(26, events.AggregatePerson, "p", events.PersonDeleted{PersonID: "p", DeletionID: "d2"}),
		), "p", []stepSeen{
			{"requested", "PersonDeletionRequested", 21, -1},
			{"unbind_permission_groups", "PermissionGroupsUnbound", 23, 0},
			{"purge_faces", "FacesPurged", 24, 0},
			{"purge_photos", "PhotosPurged", 25, 0},
			{"delete_person", "PersonDeleted", 26, -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := receipts.FromLog(ctx, tt.log, tt.person, "", "ERASURE")
			require.NoError(t, err)
			require.Equal(t, tt.want, stepsOf(rc))
			require.Equal(t, rc.Steps[0].At, rc.RequestedAt)
			require.Equal(t, rc.Steps[len(rc.Steps)-1].Seq, rc.KeyDestruction.Seq)
			// Build, given the person's history and its batches', is the same receipt.
			history, _, _ := tt.log.Load(ctx, events.AggregatePerson, tt.person)
			var batches [][]events.Recorded
			for _, b := range receipts.BatchesOf(tt.person, "", history) {
				h, _, _ := tt.log.Load(ctx, events.AggregateBatch, b)
				batches = append(batches, h)
			}
			again, err := receipts.Build(tt.person, "", "ERASURE", history, batches...)
			require.NoError(t, err)
			require.Equal(t, rc.Canonical(), again.Canonical())
		})
	}

	// The first deletion of a person deleted twice, named: its own batch's steps.
	log := append(batchOf("d1_0_0"), memLog{
		record(20, events.AggregatePerson, "p", created()),
		record(21, events.AggregatePerson, "p", events.PersonDeletionRequested{PersonID: "p", DeletionID: "d2", Batch: "d1_0_0"}),
		record(22, events.AggregatePerson, "p", events.PersonDeleted{PersonID: "p", DeletionID: "d2"}),
	}...)
	rc, err := receipts.FromLog(ctx, log, "p", "d1", "ERASURE")
	require.NoError(t, err)
	require.Equal(t, full, stepsOf(rc))
	history, _, _ := log.Load(ctx, events.AggregatePerson, "p")
	require.Equal(t, []string{"d1_0_0"}, receipts.BatchesOf("p", "d1", history))
	require.Empty(t, receipts.BatchesOf("p", "", nil), "no history, no batch")
}

// fixtureLog reads a committed log fixture (events/testdata) as the store gives it back:
// sequence i+1 for the file's i-th event, payloads through the upcasters.
func fixtureLog(t *testing.T, path string) memLog {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var fixture []struct {
		EventID       string          `json:"event_id"`
		Aggregate     string          `json:"aggregate"`
		AggregateID   string          `json:"aggregate_id"`
		Type          string          `json:"type"`
		Time          string          `json:"time"`
		CorrelationID string          `json:"correlation_id"`
		Actor         string          `json:"actor"`
		Data          json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &fixture))
	var log memLog
	for i, f := range fixture {
		h := nats.Header{}
		h.Set(nats.MsgIdHdr, f.EventID)
		h.Set(events.HeaderType, f.Type)
		h.Set(events.HeaderTime, f.Time)
		h.Set(events.HeaderCorrelation, f.CorrelationID)
		h.Set(events.HeaderActor, f.Actor)
		r, err := eventlog.DecodeMsg(events.Subject("erasure", f.Aggregate, f.AggregateID), h, f.Data, uint64(i+1))
		require.NoError(t, err)
		log = append(log, r)
	}
	return log
}

// The receipt of p2, deleted in the log the per-person saga wrote, is byte for byte the one the
// code before batches signed (testdata/p2_per_person.receipt, signed by that code with the same
// key), and verifies. The same story in batch form gives p2 the same steps, from its batch.
func TestFixtureReceipts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := receipts.NewSigner(ed25519.NewKeyFromSeed([]byte("golden-golden-golden-golden-0123")))
	want, err := os.ReadFile("testdata/p2_per_person.receipt")
	require.NoError(t, err)

	perPerson := fixtureLog(t, "../events/testdata/log_per_person.json")
	rc, err := receipts.FromLog(ctx, perPerson, "p2", "", "ERASURE")
	require.NoError(t, err)
	file := signer.Sign(rc)
	require.Equal(t, string(want), string(file))
	got, err := receipts.Verify(file, signer.PublicKey())
	require.NoError(t, err)
	require.Equal(t, rc, got)

	batched := fixtureLog(t, "../events/testdata/log_batch.json")
	rcb, err := receipts.FromLog(ctx, batched, "p2", "", "ERASURE")
	require.NoError(t, err)
	got, err = receipts.Verify(signer.Sign(rcb), signer.PublicKey())
	require.NoError(t, err)
	require.Equal(t, rcb, got)
	at := func(s string) string { return "2023-06-01T10:00:" + s + ".123456Z" }
	one := func(n int) *int { return &n }
	require.Equal(t, []receipts.Step{
		{Step: "requested", Event: "PersonDeletionRequested", At: at("08"), Seq: 9},
		{Step: "unbind_permission_groups", Event: "PermissionGroupsUnbound", At: at("09"), Seq: 11, Count: one(0)},
		{Step: "purge_faces", Event: "FacesPurged", At: at("10"), Seq: 13, Count: one(1)},
		{Step: "purge_photos", Event: "PhotosPurged", At: at("14"), Seq: 14, Count: one(1)},
		{Step: "delete_person", Event: "PersonDeleted", At: at("15"), Seq: 15, Detail: "person deleted and data key destroyed"},
	}, rcb.Steps)
	// Apart from where the log recorded them, the two receipts say the same.
	for i := range rc.Steps {
		require.Equal(t, []any{rc.Steps[i].Step, rc.Steps[i].Event, rc.Steps[i].Count, rc.Steps[i].Detail},
			[]any{rcb.Steps[i].Step, rcb.Steps[i].Event, rcb.Steps[i].Count, rcb.Steps[i].Detail})
	}
	rcb.Steps, rc.Steps, rcb.RequestedAt, rc.RequestedAt = nil, nil, "", ""
	require.Equal(t, rc, rcb)

	// p1 failed: no receipt in either.
	for _, log := range []memLog{perPerson, batched} {
		_, err := receipts.FromLog(ctx, log, "p1", "", "ERASURE")
		require.ErrorIs(t, err, receipts.ErrNoReceipt)
	}
}
