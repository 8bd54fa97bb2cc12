package webhooks_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// A receiver that is down (its port refuses connections) for a while gets every outcome once it
// is back, each under the webhook-id it was first tried with.
func TestReceiverDownThenBackGetsEverything(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		schedule := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond,
			300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond,
			300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
		env := start(t, dialect, schedule...)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		id, secret := c.subscribe(recv.URL("/hook"), "person.deleted", "deletion.completed")
		recv.down()

		persons := []string{"d1", "d2", "d3", "d4", "d5"}
		for _, p := range persons {
			c.createPerson(p)
		}
		c.deleteAll(persons...)
		// Every delivery fails at least twice while the receiver is down.
		require.Eventually(t, func() bool {
			ds := c.deliveries(id, "")
			if len(ds) != len(persons)+1 {
				return false
			}
			for _, d := range ds {
				if d["state"] != "pending" || d["attempts"].(float64) < 2 || d["last_error"] == "" {
					return false
				}
			}
			return true
		}, 20*time.Second, 50*time.Millisecond, "deliveries retried while the receiver is down")

		recv.up()
		recv.waitFor(20*time.Second, func() bool {
			return len(recv.ofType("person.deleted")) == len(persons) && len(recv.ofType("deletion.completed")) == 1
		}, "everything delivered after the receiver came back")
		got := map[any]bool{}
		for _, d := range recv.ofType("person.deleted") {
			require.NoError(t, verifySignature(secret, d))
			got[d.Body.Data["person_id"]] = true
		}
		require.Len(t, got, len(persons))
		// The sender records an answer a moment after the receiver saw the request.
		require.Eventually(t, func() bool {
			for _, d := range c.deliveries(id, "") {
				if d["state"] != "delivered" {
					return false
				}
			}
			return true
		}, 10*time.Second, 20*time.Millisecond, "every delivery recorded as delivered")
		for _, d := range c.deliveries(id, "") {
			require.GreaterOrEqual(t, d["attempts"].(float64), 3.0, d)
		}
	})
}

// A receiver that always fails gets every attempt of the schedule, then the delivery is
// dead-lettered; redelivered on request, it arrives with the same webhook-id.
func TestAlwaysFailingReceiverIsDeadLetteredThenRedelivered(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := start(t, dialect, 20*time.Millisecond, 40*time.Millisecond)
		c := client{t, env.HTTP.URL}
		recv := newReceiver(t)
		recv.answerAlways(http.StatusInternalServerError)
		id, secret := c.subscribe(recv.URL("/hook"), "person.deleted")
		c.createPerson("x1")
		c.deleteAll("x1")

		var dead map[string]any
		require.Eventually(t, func() bool {
			ds := c.deliveries(id, "state=dead")
			if len(ds) == 1 {
				dead = ds[0]
			}
			return dead != nil
		}, 20*time.Second, 20*time.Millisecond, "dead-lettered")
		require.Equal(t, 3.0, dead["attempts"], "one attempt and two retries: %v", dead)
		require.Equal(t, 500.0, dead["last_status"])
		require.Contains(t, dead["last_error"], "500")
		require.NotContains(t, dead, "next_attempt_at")
		attempts := recv.all()
		require.Len(t, attempts, 3)
		for _, a := range attempts {
			require.Equal(t, dead["webhook_id"], a.ID, "every attempt carries the same webhook-id")
		}
		require.Empty(t, c.deliveries(id, "state=pending"))

		recv.answerAlways(http.StatusOK)
		deliveryID := strconv.FormatFloat(dead["id"].(float64), 'f', 0, 64)
		status, body := c.post("/v1/webhooks/"+id+"/deliveries/"+deliveryID+"/redeliver", "")
		require.Equal(t, http.StatusAccepted, status, body)
		recv.waitFor(10*time.Second, func() bool { return len(recv.all()) == 4 }, "redelivered")
		last := recv.all()[3]
		require.Equal(t, dead["webhook_id"], last.ID)
		require.NoError(t, verifySignature(secret, last))
		require.Eventually(t, func() bool {
			ds := c.deliveries(id, "state=delivered")
			return len(ds) == 1 && ds[0]["attempts"] == 1.0
		}, 10*time.Second, 20*time.Millisecond)

		status, body = c.post("/v1/webhooks/"+id+"/deliveries/999999/redeliver", "")
		require.Equal(t, http.StatusNotFound, status, body)
	})
}

// Retry-After is honoured over the schedule, and 410 Gone disables the endpoint: nothing more is
// sent to it.
func TestRetryAfterAndGone(t *testing.T) {
	env := start(t, "sqlite", 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
	c := client{t, env.HTTP.URL}
	recv := newReceiver(t)
	recv.setAnswer(func(n int) (int, http.Header) {
		switch n {
		case 1:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}
		case 2:
			return http.StatusOK, nil
		}
		return http.StatusGone, nil
	})
	id, _ := c.subscribe(recv.URL("/hook"), "person.deleted")
	c.createPerson("r1")
	c.deleteAll("r1")
	recv.waitFor(10*time.Second, func() bool { return len(recv.all()) == 2 }, "retried after Retry-After")
	got := recv.all()
	require.GreaterOrEqual(t, got[1].At.Sub(got[0].At), 900*time.Millisecond, "Retry-After: 1 waits a second, not the schedule's 10ms")

	c.createPerson("r2")
	c.createPerson("r3")
	c.deleteAll("r2")
	require.Eventually(t, func() bool {
		_, w := c.get("/v1/webhooks/" + id)
		return w["state"] == "disabled"
	}, 10*time.Second, 20*time.Millisecond, "410 Gone disables the webhook")
	_, w := c.get("/v1/webhooks/" + id)
	require.Contains(t, w["disabled_reason"], "410")
	require.Len(t, c.deliveries(id, "state=dead"), 1)
	c.deleteAll("r3")
	time.Sleep(500 * time.Millisecond) // a disabled webhook must stay silent: nothing to wait for
	require.Len(t, recv.all(), 3)
}
