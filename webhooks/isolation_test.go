package webhooks_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// A receiver that takes seconds to answer holds only its own queue: a fast receiver subscribed
// to the same events gets all of them while the slow one is still working through its own.
func TestSlowReceiverDoesNotDelayFastOne(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := start(t, dialect, time.Second)
		c := client{t, env.HTTP.URL}
		slow, fast := newReceiver(t), newReceiver(t)
		slow.hold = 3 * time.Second
		c.subscribe(slow.URL("/slow"), "person.deleted")
		c.subscribe(fast.URL("/fast"), "person.deleted")

		var persons []string
		for i := range 12 {
			persons = append(persons, fmt.Sprintf("s%d", i))
			c.createPerson(persons[i])
		}
		c.deleteAll(persons...)
		fast.waitFor(10*time.Second, func() bool { return len(fast.ofType("person.deleted")) == len(persons) },
			"the fast receiver gets everything")
		// Four in flight at a time, three seconds each: the slow one cannot have had them all.
		require.Less(t, len(slow.all()), len(persons), "the slow receiver is still busy")
		slow.waitFor(30*time.Second, func() bool { return len(slow.ofType("person.deleted")) == len(persons) },
			"the slow receiver gets everything too, in its own time")
	})
}
