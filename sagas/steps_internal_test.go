package sagas

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// The step table is the domain's order, each step once.
func TestStepTableFollowsTheDomain(t *testing.T) {
	got := make([]domain.Step, len(steps))
	for i, d := range steps {
		got[i] = d.step
	}
	require.Equal(t, domain.Steps, got)
}

// Each recorded event triggers the step after it, on the batch path and the per-person path.
func TestEachRecordTriggersTheNextStep(t *testing.T) {
	for _, tc := range []struct {
		name    string
		event   any
		batch   domain.Step // "" : none
		person  domain.Step
		endsRun bool
	}{
		{name: "a batch starts", event: events.DeletionBatchStarted{}, batch: domain.StepUnbindPermissions},
		{name: "a person's request", event: events.PersonDeletionRequested{PersonID: "p"}, batch: "", person: domain.StepUnbindPermissions},
		{name: "a batch's person's request", event: events.PersonDeletionRequested{PersonID: "p", Batch: "b"}},
		{name: "a joiner", event: events.PersonDeletionRequested{PersonID: "p", Joins: "d"}},
		{name: "an operator's retry", event: events.PersonDeletionRequested{PersonID: "p", ResumeAt: string(domain.StepPurgePhotos)}, person: domain.StepPurgePhotos},
		{name: "unbound", event: events.PermissionGroupsUnbound{}, batch: domain.StepPurgeFaces, person: domain.StepPurgeFaces},
		{name: "faces purged", event: events.FacesPurged{}, batch: domain.StepPurgePhotos, person: domain.StepPurgePhotos},
		{name: "photos purged", event: events.PhotosPurged{}, batch: domain.StepDeletePerson, person: domain.StepDeletePerson},
		{name: "photos purged, targets to go", event: events.PhotosPurged{Targets: []string{"edge"}}, batch: domain.StepDeleteFromTargets, person: domain.StepDeleteFromTargets},
		{name: "targets confirmed", event: events.PersonRemovedFromTargets{}, batch: domain.StepDeletePerson, person: domain.StepDeletePerson},
		{name: "a target to go", event: events.PersonRemovedFromTargets{Remaining: []string{"edge"}}},
		{name: "a batch completed", event: events.DeletionBatchCompleted{}},
		{name: "a person deleted", event: events.PersonDeleted{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := batchStep(tc.event)
			require.Equal(t, tc.batch != "", ok)
			require.Equal(t, tc.batch, b)
			p, ok := stepFor(tc.event)
			require.Equal(t, tc.person != "", ok)
			require.Equal(t, tc.person, p)
		})
	}
}

// recordingPorts records which port each step calls, for whom.
type recordingPorts struct {
	calls  []string
	photos []events.PersonPhotos
	err    error
}

func (r *recordingPorts) call(name string, ids []string) error {
	r.calls = append(r.calls, name+" "+ids[0])
	return r.err
}
func (r *recordingPorts) UnbindPermissionGroups(_ context.Context, ids []string) error {
	return r.call("unbind", ids)
}
func (r *recordingPorts) PurgeFaces(_ context.Context, ids []string) error {
	return r.call("faces", ids)
}
func (r *recordingPorts) PurgePhotos(_ context.Context, photos []events.PersonPhotos) error {
	r.photos = append(r.photos, photos...)
	return r.call("photos", []string{photos[0].PersonID})
}
func (r *recordingPorts) Destroy(_ context.Context, ids ...string) error { return r.call("keys", ids) }

// remove calls the step's port, shows the call to the observer under the step's name, and
// names the step in its error.
func TestRemoveCallsTheStepsPortAndObservesIt(t *testing.T) {
	for _, fail := range []bool{false, true} {
		r := &recordingPorts{}
		if fail {
			r.err = errors.New("store down")
		}
		var observed []string
		observe := func(step domain.Step, took time.Duration, err error) {
			require.GreaterOrEqual(t, took, time.Duration(0))
			observed = append(observed, string(step)+" "+map[bool]string{true: "failed", false: "ok"}[err != nil])
		}
		p := ports{target: r, keys: r}
		for _, step := range []domain.Step{domain.StepUnbindPermissions, domain.StepPurgeFaces, domain.StepPurgePhotos, domain.StepDeletePerson} {
			err := remove(context.Background(), p, observe, step, byIDsOnly([]string{"p1"}))
			if fail {
				require.ErrorIs(t, err, r.err)
				require.ErrorContains(t, err, string(step))
			} else {
				require.NoError(t, err)
			}
		}
		require.Equal(t, []string{"unbind p1", "faces p1", "photos p1", "keys p1"}, r.calls)
		outcome := map[bool]string{true: "failed", false: "ok"}[fail]
		require.Equal(t, []string{"unbind_permission_groups " + outcome, "purge_faces " + outcome, "purge_photos " + outcome, "delete_person " + outcome}, observed)
		require.Error(t, remove(context.Background(), p, observe, domain.StepDeleteFromTargets, byIDsOnly([]string{"p1"})), "the targets step fans out on its own")
	}
}

// The per-person saga decodes only triggerTypes: every type that starts or advances a step must
// be in it, and nothing else.
func TestTriggerTypesAreWhatStartsAStep(t *testing.T) {
	var triggers []string
	for _, q := range events.Current() {
		v, err := events.Decode(q, []byte(`{}`))
		require.NoError(t, err, q)
		if _, ok := stepFor(v); ok {
			name, _, err := events.SplitQualified(q)
			require.NoError(t, err)
			triggers = append(triggers, name)
		}
	}
	require.ElementsMatch(t, triggers, triggerTypes)
}

// The photos step names the keys each person is to lose, and none where the saga knows nothing
// of them (the per-person path).
func TestPhotosStepPassesTheExpectedKeys(t *testing.T) {
	persons := []events.BatchPerson{
		{PersonID: "p1", Faces: []events.Face{{FaceID: "f1", PhotoKey: "k1"}, {FaceID: "f2"}, {FaceID: "f3", PhotoKey: "k3"}}},
		{PersonID: "p2"},
	}
	r := &recordingPorts{}
	require.NoError(t, remove(context.Background(), ports{target: r, keys: r}, nil, domain.StepPurgePhotos, persons))
	require.Equal(t, []events.PersonPhotos{{PersonID: "p1", PhotoKeys: []string{"k1", "k3"}}, {PersonID: "p2", PhotoKeys: []string{}}}, r.photos)
	require.Equal(t, []string{"photos p1"}, r.calls)
}
