package sagas

import (
	"context"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
)

// stepDef is one step of a person's deletion, said once: the recorded event that triggers it,
// the port call that removes what the step removes (whose duration and error StepObserver
// sees under the step's name), what of a person its record lists, and the record a batch
// appends once the step is done. Both sagas follow this table; domain.Steps holds the order
// and the Person aggregate the rules.
type stepDef struct {
	step domain.Step
	// after reports whether a recorded step event triggers this step ("the step before is
	// durable"). The first step is triggered by a request instead (DeletionBatchStarted, or a
	// person's own PersonDeletionRequested).
	after func(data any) bool
	// parts is what of a person the step's record lists, read from the read model.
	parts StateParts
	// remove runs the step's side effect for the persons (what each is to lose, where the
	// saga knows it); nil for the targets step, which fans out person by person
	// (targets_step.go).
	remove func(ctx context.Context, p ports, persons []events.BatchPerson) error
	// record is a batch's record of the step for the persons that go on; nil for the step that
	// ends the batch (its persons' terminal events and DeletionBatchCompleted).
	record func(deletion, batch string, persons []events.BatchPerson) any
}

// ports are what the steps remove from: the built-in stores and the persons' data keys.
type ports struct {
	target Stores
	keys   KeyShredder
}

// StepObserver sees each downstream call of a step: its duration and its error (metrics).
type StepObserver func(step domain.Step, took time.Duration, err error)

func is[T any](data any) bool { _, ok := data.(T); return ok }

// steps is the deletion, in order (domain.Steps).
var steps = []stepDef{
	{
		step:  domain.StepUnbindPermissions,
		parts: WithPermissionGroups,
		remove: func(ctx context.Context, p ports, persons []events.BatchPerson) error {
			return p.target.UnbindPermissionGroups(ctx, idsOf(persons))
		},
		record: func(deletion, batch string, persons []events.BatchPerson) any {
			e := events.PermissionGroupsUnbound{DeletionID: deletion, Batch: batch, Persons: make([]events.PersonPermissionGroups, len(persons))}
			for i, p := range persons {
				e.Persons[i] = events.PersonPermissionGroups{PersonID: p.PersonID, PermissionGroupIDs: nonNil(p.PermissionGroupIDs)}
			}
			return e
		},
	},
	{
		step:  domain.StepPurgeFaces,
		after: is[events.PermissionGroupsUnbound],
		parts: WithFaces,
		remove: func(ctx context.Context, p ports, persons []events.BatchPerson) error {
			return p.target.PurgeFaces(ctx, idsOf(persons))
		},
		record: func(deletion, batch string, persons []events.BatchPerson) any {
			e := events.FacesPurged{DeletionID: deletion, Batch: batch, Persons: make([]events.PersonFaces, len(persons))}
			for i, p := range persons {
				e.Persons[i] = events.PersonFaces{PersonID: p.PersonID, FaceIDs: domain.FaceIDs(p.Faces)}
			}
			return e
		},
	},
	{
		step:   domain.StepPurgePhotos,
		after:  is[events.FacesPurged],
		parts:  WithFaces,
		remove: purgePhotos,
		record: func(deletion, batch string, persons []events.BatchPerson) any {
			e := events.PhotosPurged{DeletionID: deletion, Batch: batch, Persons: make([]events.PersonPhotos, len(persons))}
			for i, p := range persons {
				e.Persons[i] = events.PersonPhotos{PersonID: p.PersonID, PhotoKeys: domain.PhotoKeys(p.Faces)}
			}
			return e
		},
	},
	{
		// Only with external targets configured, and only on the per-person path (a batch with
		// targets is not formed): after the photos, before the person.
		step: domain.StepDeleteFromTargets,
		after: func(data any) bool {
			e, ok := data.(events.PhotosPurged)
			return ok && len(e.Targets) > 0
		},
	},
	{
		step: domain.StepDeletePerson,
		after: func(data any) bool {
			switch e := data.(type) {
			case events.PhotosPurged:
				return len(e.Targets) == 0
			case events.PersonRemovedFromTargets:
				return len(e.Remaining) == 0
			}
			return false
		},
		remove: func(ctx context.Context, p ports, persons []events.BatchPerson) error {
			return p.keys.Destroy(ctx, idsOf(persons)...)
		},
	},
}

// triggerTypes are the person events that start a step of the per-person path (stepFor): a
// request and the step records a step follows. TestTriggerTypesAreWhatStartsAStep holds the
// list to the table above.
var triggerTypes = []string{"PersonDeletionRequested", "PermissionGroupsUnbound", "FacesPurged", "PhotosPurged",
	"PersonRemovedFromTargets"}

// purgePhotos removes the persons' photos, naming the keys each is expected to hold (a face
// registered from its features alone has none on disk, but its key is still listed).
func purgePhotos(ctx context.Context, p ports, persons []events.BatchPerson) error {
	photos := make([]events.PersonPhotos, len(persons))
	for i, ps := range persons {
		photos[i] = events.PersonPhotos{PersonID: ps.PersonID, PhotoKeys: []string{}}
		for _, f := range ps.Faces {
			if f.PhotoKey != "" {
				photos[i].PhotoKeys = append(photos[i].PhotoKeys, f.PhotoKey)
			}
		}
	}
	return p.target.PurgePhotos(ctx, photos)
}

func idsOf(persons []events.BatchPerson) []string {
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = p.PersonID
	}
	return ids
}

// byIDsOnly lists persons by ID alone, for a caller that does not know what they hold.
func byIDsOnly(ids []string) []events.BatchPerson {
	persons := make([]events.BatchPerson, len(ids))
	for i, id := range ids {
		persons[i] = events.BatchPerson{PersonID: id}
	}
	return persons
}

// stepDefOf returns the definition of a step.
func stepDefOf(step domain.Step) (stepDef, bool) {
	for _, d := range steps {
		if d.step == step {
			return d, true
		}
	}
	return stepDef{}, false
}

// nextStep returns the step a recorded step event triggers, if any.
func nextStep(data any) (stepDef, bool) {
	for _, d := range steps {
		if d.after != nil && d.after(data) {
			return d, true
		}
	}
	return stepDef{}, false
}

// remove runs a step's side effect for the persons, for both sagas, and shows the call to
// observe (nil: nobody watches).
func remove(ctx context.Context, p ports, observe StepObserver, step domain.Step, persons []events.BatchPerson) error {
	d, ok := stepDefOf(step)
	if !ok || d.remove == nil {
		return fmt.Errorf("step %q removes nothing by itself", step)
	}
	start := time.Now()
	err := d.remove(ctx, p, persons)
	if observe != nil {
		observe(step, time.Since(start), err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}
