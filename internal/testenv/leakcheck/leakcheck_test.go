package leakcheck_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
)

// childEnv marks a run of this binary, by TestMain, as the child that TestMainFailsOnALeak
// inspects.
const childEnv = "LEAKCHECK_TEST_CHILD"

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestChildWorkers runs only in the child: one goroutine stopped before the test ends and, when
// asked, one left blocked forever.
func TestChildWorkers(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		// Not a skip (CI refuses skipped tests): in the parent it has nothing to do; its
		// assertions are TestMainFailsOnALeak's, on the child's exit and output.
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); <-stop }()
	close(stop)
	<-done
	if mode == "leak" {
		go leakedWorker(make(chan struct{}))
	}
}

func leakedWorker(never chan struct{}) { <-never }

// A test binary whose tests pass fails when one of them left a goroutine running, and names
// it; without a leak it passes.
func TestMainFailsOnALeak(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode     string
		wantFail bool
	}{
		{"stopped", false},
		{"leak", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildWorkers$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.mode)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if !tc.wantFail {
				require.NoError(t, err, "%s", out.String())
				return
			}
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "want a failed run, got %v\n%s", err, out.String())
			require.Contains(t, out.String(), "goleak: Errors on successful test run")
			require.Contains(t, out.String(), "leakcheck_test.leakedWorker")
		})
	}
}
