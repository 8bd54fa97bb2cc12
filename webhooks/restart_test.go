package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// Deliveries waiting for a retry survive a restart of erasure: after it, everything arrives, with
// the webhook-ids of the attempts before it.
func TestRestartMidRetryLosesNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		schedule := make([]time.Duration, 20)
		for i := range schedule {
			schedule[i] = 300 * time.Millisecond
		}
		env := start(t, dialect, schedule...)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		recv.answerAlways(http.StatusServiceUnavailable)
		id, secret := c.subscribe(recv.URL("/hook"), "person.deleted", "deletion.completed")
		persons := []string{"m1", "m2", "m3", "m4"}
		for _, p := range persons {
			c.createPerson(p)
		}
		c.deleteAll(persons...)
		require.Eventually(t, func() bool {
			ds := c.deliveries(id, "")
			if len(ds) != len(persons)+1 {
				return false
			}
			for _, d := range ds {
				if d["attempts"].(float64) < 1 {
					return false
				}
			}
			return true
		}, 20*time.Second, 20*time.Millisecond, "every delivery failed once")
		before := map[string]bool{}
		for _, d := range recv.all() {
			before[d.ID] = true
		}

		env.Restart()
		c = client{t, env.HTTP.URL}
		recv.answerAlways(http.StatusOK)
		recv.waitFor(20*time.Second, func() bool {
			return len(recv.ofType("person.deleted")) == len(persons) && len(recv.ofType("deletion.completed")) == 1 &&
				len(c.deliveries(id, "state=delivered")) == len(persons)+1
		}, "everything delivered after the restart")
		for key, d := range recv.byID() {
			require.True(t, before[d.ID], "%s was tried before the restart under the same webhook-id", key)
			require.NoError(t, verifySignature(secret, d))
		}
	})
}
