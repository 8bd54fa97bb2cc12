package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A subscription or callback endpoint that answers with a redirect to another server is not
// followed, whatever the redirect's status: the answer is a failed attempt of that endpoint, and
// the server it points to (which no subscription named, and no SSRF check saw) gets nothing.
func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	env := start(t, "sqlite")
	c := client{t, env.HTTP.URL}
	elsewhere := newReceiver(t)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			c := client{t, c.base}
			hook := newReceiver(t)
			hook.setAnswer(func(int) (int, http.Header) {
				return status, http.Header{"Location": {elsewhere.URL("/stolen")}}
			})
			id, _ := c.subscribe(hook.URL("/hook"), "person.deleted")
			person := "r" + http.StatusText(status)[:3]
			c.createPerson(person)
			code, body := c.post("/v1/deletions", `{"person_ids":["`+person+`"],"callback_url":"`+hook.URL("/callback")+`"}`)
			require.Equal(t, http.StatusAccepted, code, body)

			hook.waitFor(20*time.Second, func() bool { return len(hook.byID()) >= 2 }, "the subscription's and the callback's attempts")
			var failed map[string]any
			require.Eventually(t, func() bool {
				for _, d := range c.deliveries(id, "") {
					if d["last_status"] != nil {
						failed = d
						return true
					}
				}
				return false
			}, 20*time.Second, 20*time.Millisecond, "the redirected attempt is recorded")
			require.EqualValues(t, status, failed["last_status"], "the redirect is the attempt's answer: %v", failed)
			require.NotEqual(t, "delivered", failed["state"])
			require.Empty(t, c.deliveries(id, "state=delivered"))
		})
	}
	require.Empty(t, elsewhere.all(), "a redirect target got a request")
}
