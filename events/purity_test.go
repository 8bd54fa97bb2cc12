package events_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The domain and what the log holds are pure data and rules: no log, database, network or
// messaging code is reachable from them, so they are tested without I/O and read on their own.
// The log itself (JetStream) is package eventlog.
func TestEventsAndDomainImportNoInfrastructure(t *testing.T) {
	forbidden := []string{"github.com/nats-io/", "github.com/synadia-io/", "github.com/lib/pq", "github.com/jmoiron/sqlx",
		"modernc.org/sqlite", "github.com/ThreeDotsLabs/", "database/sql", "net/http", "net", "os/exec"}
	for _, pkg := range []string{"github.com/erasure-dev/erasure/events", "github.com/erasure-dev/erasure/domain"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s listed %v: too few to be its dependencies", pkg, deps)
		}
		for _, dep := range deps {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/")) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
			if strings.HasPrefix(dep, "github.com/erasure-dev/erasure/") && dep != "github.com/erasure-dev/erasure/events" && dep != pkg {
				t.Errorf("%s depends on %s: only events is below the domain", pkg, dep)
			}
		}
	}
}
