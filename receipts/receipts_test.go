package receipts_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/receipts"
)

var t0 = time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC)

// hist builds a person's history; event i is at t0 + i seconds with sequence 10+i*3.
func hist(data ...any) []events.Recorded {
	out := make([]events.Recorded, len(data))
	for i, d := range data {
		name, _, err := events.TypeOf(d)
		if err != nil {
			panic(err)
		}
		out[i] = events.Recorded{Seq: uint64(10 + i*3), Envelope: events.Envelope{Type: name, Time: t0.Add(time.Duration(i) * time.Second),
			CorrelationID: "req-" + name, Data: d}}
	}
	return out
}

// unboundStep, facesStep and photosStep are step events of one person on its own subject.
func unboundStep(p, d string, ids []string) events.PermissionGroupsUnbound {
	return events.PermissionGroupsUnbound{DeletionID: d, Persons: []events.PersonPermissionGroups{{PersonID: p, PermissionGroupIDs: ids}}}
}

func facesStep(p, d string, ids []string) events.FacesPurged {
	return events.FacesPurged{DeletionID: d, Persons: []events.PersonFaces{{PersonID: p, FaceIDs: ids}}}
}

func photosStep(p, d string, keys []string) events.PhotosPurged {
	return events.PhotosPurged{DeletionID: d, Persons: []events.PersonPhotos{{PersonID: p, PhotoKeys: keys}}}
}

func created() events.PersonCreated {
	return events.PersonCreated{PersonID: "p", Name: "SEALED-NAME-VALUE", Faces: []events.Face{{FaceID: "f", PhotoKey: "k"}}}
}

func saga(d string) []any {
	return []any{
		events.PersonDeletionRequested{PersonID: "p", DeletionID: d},
		unboundStep("p", d, []string{"a", "b"}),
		facesStep("p", d, []string{"f"}),
		photosStep("p", d, []string{"k"}),
		events.PersonDeleted{PersonID: "p", DeletionID: d},
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	twice := append(append(append([]any{created()}, saga("d1")...), created()), saga("d2")...)
	tests := []struct {
		name       string
		history    []events.Recorded
		deletion   string
		wantErr    error
		wantSteps  []string
		wantJoined []string
		deletionID string
	}{
		{"a deletion", hist(append([]any{created()}, saga("d1")...)...), "", nil,
			[]string{"requested", "unbind_permission_groups", "purge_faces", "purge_photos", "delete_person"}, nil, "d1"},
		{"joined, failed and retried", hist(created(),
			events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1"},
			events.PersonDeletionRequested{PersonID: "p", DeletionID: "d9", Joins: "d1"},
			unboundStep("p", "d1", nil),
			events.PersonDeletionFailed{PersonID: "p", DeletionID: "d1", Code: "STEP_FAILED", Step: "purge_faces", Message: "free text"},
			events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1", ResumeAt: "purge_faces"},
			facesStep("p", "d1", nil),
			photosStep("p", "d1", nil),
			events.PersonDeleted{PersonID: "p", DeletionID: "d1"}), "", nil,
			[]string{"requested", "joined", "unbind_permission_groups", "failed", "retried", "purge_faces", "purge_photos", "delete_person"}, []string{"d9"}, "d1"},
		{"deleted twice: the last", hist(twice...), "", nil,
			[]string{"requested", "unbind_permission_groups", "purge_faces", "purge_photos", "delete_person"}, nil, "d2"},
		{"deleted twice: the first, named", hist(twice...), "d1", nil,
			[]string{"requested", "unbind_permission_groups", "purge_faces", "purge_photos", "delete_person"}, nil, "d1"},
		{"still deleting", hist(created(), events.PersonDeletionRequested{PersonID: "p", DeletionID: "d1"}), "", receipts.ErrNoReceipt, nil, nil, ""},
		{"never deleted", hist(created()), "", receipts.ErrNoReceipt, nil, nil, ""},
		{"unknown deletion", hist(append([]any{created()}, saga("d1")...)...), "dx", receipts.ErrNoReceipt, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := receipts.Build("p", tt.deletion, "ERASURE", tt.history)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var steps []string
			for _, s := range rc.Steps {
				steps = append(steps, s.Step)
				require.NotZero(t, s.Seq)
				require.NotEmpty(t, s.At)
			}
			require.Equal(t, tt.wantSteps, steps)
			require.Equal(t, tt.wantJoined, rc.JoinedDeletionIDs)
			require.Equal(t, tt.deletionID, rc.DeletionID)
			require.True(t, rc.KeyDestruction.Destroyed)
			last := rc.Steps[len(rc.Steps)-1]
			require.Equal(t, last.Seq, rc.KeyDestruction.Seq)
			require.Equal(t, last.At, rc.CompletedAt)
			require.Equal(t, rc.Steps[0].At, rc.RequestedAt)
			require.Equal(t, "req-PersonDeletionRequested", rc.RequestID)
			require.NotContains(t, string(rc.Canonical()), "free text")
			require.NotContains(t, string(rc.Canonical()), "SEALED-NAME-VALUE")
			// Deterministic: the same log gives the same bytes.
			again, err := receipts.Build("p", tt.deletion, "ERASURE", tt.history)
			require.NoError(t, err)
			require.Equal(t, rc.Canonical(), again.Canonical())
		})
	}
}

func signed(t *testing.T) ([]byte, *receipts.Signer) {
	t.Helper()
	rc, err := receipts.Build("p", "", "ERASURE", hist(append([]any{created()}, saga("d1")...)...))
	require.NoError(t, err)
	seed := make([]byte, ed25519.SeedSize)
	s := receipts.NewSigner(ed25519.NewKeyFromSeed(seed))
	return s.Sign(rc), s
}

func TestVerifyFailsOnAnyAlteredByte(t *testing.T) {
	t.Parallel()
	file, s := signed(t)
	rc, err := receipts.Verify(file, s.PublicKey())
	require.NoError(t, err)
	require.Equal(t, "p", rc.PersonID)
	require.Equal(t, file, s.Sign(rc), "signing is deterministic")
	for i := range file {
		for _, flip := range []byte{0x01, 0x20, 0x80} {
			altered := append([]byte(nil), file...)
			altered[i] ^= flip
			_, err := receipts.Verify(altered, nil)
			require.Error(t, err, "byte %d (%q) xor %#x", i, file[i], flip)
		}
	}
	for _, tt := range []struct {
		name string
		file []byte
	}{
		{"truncated", file[:len(file)-1]},
		{"a byte added", append(append([]byte(nil), file...), '\n')},
		{"a space added", append([]byte{' '}, file...)},
		{"empty", nil},
	} {
		_, err := receipts.Verify(tt.file, nil)
		require.Error(t, err, tt.name)
	}
}

func TestVerifyChecksTheTrustedKey(t *testing.T) {
	t.Parallel()
	file, s := signed(t)
	_, err := receipts.Verify(file, ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef")).Public().(ed25519.PublicKey))
	require.ErrorIs(t, err, receipts.ErrUntrustedKey)
	_, err = receipts.Verify(file, s.PublicKey())
	require.NoError(t, err)
	// A receipt re-signed by another key and presented as ours is refused with our key.
	rc, err := receipts.Verify(file, nil)
	require.NoError(t, err)
	forged := receipts.NewSigner(ed25519.NewKeyFromSeed([]byte("forger-forger-forger-forger-0123"))).Sign(rc)
	_, err = receipts.Verify(forged, s.PublicKey())
	require.ErrorIs(t, err, receipts.ErrUntrustedKey)
}

func TestLoadOrCreateSigner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := receipts.LoadOrCreateSigner(dir, "")
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, receipts.KeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := receipts.LoadOrCreateSigner(dir, "")
	require.NoError(t, err)
	require.Equal(t, a.PublicKey(), b.PublicKey(), "the key is kept across starts")

	seed := []byte("0123456789abcdef0123456789abcdef")
	priv := ed25519.NewKeyFromSeed(seed)
	for _, given := range []string{base64.StdEncoding.EncodeToString(seed), base64.StdEncoding.EncodeToString(priv)} {
		s, err := receipts.LoadOrCreateSigner(t.TempDir(), given)
		require.NoError(t, err)
		require.Equal(t, priv.Public(), s.PublicKey())
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := receipts.LoadOrCreateSigner(t.TempDir(), bad)
		require.ErrorContains(t, err, "ERASURE_SIGNING_KEY")
	}
}
