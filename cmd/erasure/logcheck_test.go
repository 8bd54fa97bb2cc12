package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/projections"
)

// requireOneEndPerPerson reads the whole log of a stopped server's data directory and requires,
// for every person whose deletion was requested, exactly one terminal event per deletion started
// (no person ended twice, none left without an end) and no step recorded twice for one person,
// whether the step is on the person's own subject or in its batch's records.
func requireOneEndPerPerson(t *testing.T, dir string, persons []string) {
	t.Helper()
	ctx := context.Background()
	srv := jstest.Start(t, jstest.Options{StoreDir: filepath.Join(dir, "jetstream"), Durable: true})
	// Stopped on return, not at the test's end: the test goes on to run erasure verify on the
	// same store.
	defer srv.Stop()
	// The configuration erasure serve gave the stream (embedded 2.15: atomic batches), so that
	// opening it changes nothing.
	log := jstest.Store(t, srv.JetStream("log-check"), eventlog.StoreConfig{Atomic: true})
	last, err := log.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var (
		starts    = map[string]int{}
		terminals = map[string]int{}
		steps     = map[string]int{} // "person/step type"
		problems  []string
	)
	err = projections.ReadLog(ctx, log, 1, last, 4096, func(batch []events.Recorded) error {
		for _, r := range batch {
			switch e := r.Data.(type) {
			case events.PersonDeletionRequested:
				if e.Joins == "" && e.ResumeAt == "" {
					starts[e.PersonID]++
				}
			case events.PersonDeleted:
				terminals[e.PersonID]++
			case events.PersonDeletionFailed:
				terminals[e.PersonID]++
			case events.PersonDeletionCancelled:
				terminals[e.PersonID]++
			case events.PermissionGroupsUnbound, events.FacesPurged, events.PhotosPurged:
				for _, p := range events.PersonIDsOf(e) {
					steps[p+"/"+r.Type]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range persons {
		if starts[p] == 0 {
			problems = append(problems, p+": no deletion started")
		}
		if terminals[p] != starts[p] {
			problems = append(problems, fmt.Sprintf("%s: %d deletions started, %d terminal events", p, starts[p], terminals[p]))
		}
	}
	for k, n := range steps {
		if n != 1 {
			problems = append(problems, fmt.Sprintf("%s recorded %d times", k, n))
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		t.Fatalf("the log breaks one end per person (%d problems), first ones: %v", len(problems), problems[:min(10, len(problems))])
	}
	t.Logf("log checked: %d events, %d persons each with one end, %d person steps each recorded once", last, len(persons), len(steps))
}
