package events_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
)

type fixtureEvent struct {
	EventID string          `json:"event_id"`
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
}

func loadFixture(t *testing.T, path string) []fixtureEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []fixtureEvent
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// The committed v0 events decode to exactly what their hand-written current form decodes to.
func TestUpcastFixtures(t *testing.T) {
	old := loadFixture(t, "testdata/log_v0.json")
	cur := loadFixture(t, "testdata/log_per_person.json")
	require.Len(t, old, len(cur))
	upcast := 0
	for i := range old {
		t.Run(old[i].EventID+" "+old[i].Type, func(t *testing.T) {
			got, err := events.Decode(old[i].Type, old[i].Data)
			require.NoError(t, err)
			want, err := events.Decode(cur[i].Type, cur[i].Data)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
		if old[i].Type != cur[i].Type {
			upcast++
		}
	}
	require.GreaterOrEqual(t, upcast, 4, "the fixture exercises the upcasters")
}

func TestUpcasters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     string
		raw     string
		want    any
		wantErr bool
	}{
		{"person without group or faces", "PersonCreated.v0", `{"person_id":"p","name":"x"}`,
			events.PersonCreated{PersonID: "p", Name: "x", GroupIDs: []string{}, PermissionGroupIDs: []string{}, Faces: []events.Face{}}, false},
		{"person faces zipped", "PersonCreated.v0", `{"person_id":"p","name":"x","group_id":"g","face_ids":["a","b"],"photo_keys":["ka","kb"]}`,
			events.PersonCreated{PersonID: "p", Name: "x", GroupIDs: []string{"g"}, PermissionGroupIDs: []string{},
				Faces: []events.Face{{FaceID: "a", PhotoKey: "ka"}, {FaceID: "b", PhotoKey: "kb"}}}, false},
		{"person faces without photos", "PersonCreated.v0", `{"person_id":"p","face_ids":["a"],"photo_keys":[]}`, nil, true},
		{"unchunked deletion", "DeletionRequested.v0", `{"deletion_id":"d","person_ids":["a","b"],"group_id":"g"}`,
			events.DeletionRequested{DeletionID: "d", PersonIDs: []string{"a", "b"}, GroupID: "g", Last: true, Total: 2}, false},
		{"empty deletion", "DeletionRequested.v0", `{"deletion_id":"d"}`,
			events.DeletionRequested{DeletionID: "d", PersonIDs: []string{}, Last: true}, false},
		{"failure with error field", "PersonDeletionFailed.v0", `{"person_id":"p","deletion_id":"d","error":"STEP_FAILED","failed_step":"purge_photos"}`,
			events.PersonDeletionFailed{PersonID: "p", DeletionID: "d", Code: "STEP_FAILED", Step: "purge_photos"}, false},
		{"not JSON", "DeletionRequested.v0", `{`, nil, true},
		{"no upcaster", "FaceAdded.v0", `{}`, nil, true},
		{"current version untouched", "PersonDeletionFailed.v1", `{"person_id":"p","deletion_id":"d","code":"X","step":"s"}`,
			events.PersonDeletionFailed{PersonID: "p", DeletionID: "d", Code: "X", Step: "s"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.Decode(tt.typ, json.RawMessage(tt.raw))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
