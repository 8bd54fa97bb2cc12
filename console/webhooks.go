package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// deliveriesPerPage is how many deliveries a subscription's page lists.
const deliveriesPerPage = 50

// registerWebhooks adds the Webhooks page's routes (page wraps a handler in the console's headers and
// session).
func (c *Console) registerWebhooks(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"webhooks", page(c.webhooksPage))
	mux.Handle("POST "+Prefix+"webhooks", page(c.changes(c.subscribe)))
	mux.Handle("GET "+Prefix+"webhooks/{id}", page(c.webhookPage))
	mux.Handle("GET "+Prefix+"webhooks/{id}/delete", page(c.deleteWebhookPage))
	mux.Handle("POST "+Prefix+"webhooks/{id}/delete", page(c.changes(c.deleteWebhook)))
	mux.Handle("POST "+Prefix+"webhooks/{id}/rotate", page(c.changes(c.rotateWebhook)))
	mux.Handle("POST "+Prefix+"webhooks/{id}/deliveries/{delivery}/redeliver", page(c.changes(c.redeliver)))
}

// webhooksView is what the one "webhooks" template shows: the list, one subscription, or the
// confirmation of a deletion (exactly one is set).
type webhooksView struct {
	List    *webhookList
	Detail  *webhookDetail
	Confirm *webhook
}

type webhookList struct {
	Webhooks   []webhook
	EventTypes []string
	Notice     string
	Once       string // the subscribe form's one-time token
}

type webhookDetail struct {
	webhook
	// Secret is the signing secret, set only in the answer to the subscription or the rotation
	// that made it: no later page shows it (app does not return it again).
	Secret     string
	Notice     string
	Filter     string // the deliveries' state asked for ("": any)
	Deliveries []deliveryRow
	Next       string
	Once       string // the rotate form's one-time token
}

type deliveryRow struct {
	webhookDelivery
	Dead, Redeliverable bool
}

// webhookID is what a notice's subscription ID may look like: app's IDs ("wh_" and a UUID),
// so that a crafted link cannot make the page say something else.
var webhookID = regexp.MustCompile(`^wh_[A-Za-z0-9_-]{1,64}$`)

func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request) {
	subs, err := c.backend.listWebhooks(r.Context())
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	list := &webhookList{Webhooks: subs, EventTypes: webhookEventTypes(), Once: c.formOnce(r)}
	if id := r.URL.Query().Get("deleted"); webhookID.MatchString(id) {
		list.Notice = "Subscription " + id + " is deleted: nothing more is sent to it."
	}
	c.render(w, r, http.StatusOK, "webhooks", webhooksView{List: list})
}

// subscribe subscribes a URL to the event types ticked (none: all of them), and shows its
// signing secret this once.
func (c *Console) subscribe(w http.ResponseWriter, r *http.Request) {
	if !c.once(w, r) {
		return
	}
	target := strings.TrimSpace(r.PostFormValue("url"))
	if target == "" {
		c.fail(w, r, http.StatusBadRequest, "Give the URL of the receiver (http:// or https://).")
		return
	}
	sub, err := c.backend.subscribeWebhook(r.Context(), target, r.PostForm["event_type"])
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	c.showWebhook(w, r, http.StatusCreated, sub, "Subscribed. Store its signing secret now: this page shows it once, and no page or API call shows it again.")
}

// rotateWebhook gives the subscription a new signing secret and shows it this once.
func (c *Console) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	if !c.once(w, r) {
		return
	}
	sub, err := c.backend.rotateWebhookSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	c.showWebhook(w, r, http.StatusOK, sub, "The subscription has a new signing secret. Store it now: this page shows it once. "+
		"The old secret keeps signing beside it until the time shown below, so the receiver can switch without losing a delivery.")
}

// webhookPage shows a subscription and its deliveries: ?state=pending|delivered|dead&after=CURSOR.
func (c *Console) webhookPage(w http.ResponseWriter, r *http.Request) {
	sub, err := c.backend.webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	notice := ""
	if n, err := strconv.ParseInt(r.URL.Query().Get("redelivered"), 10, 64); err == nil && n > 0 {
		notice = fmt.Sprintf("Delivery %d is queued again with a fresh retry schedule and the same webhook-id "+
			"(the receiver can tell it is a repeat). Reload the page to follow it.", n)
	}
	c.showWebhook(w, r, http.StatusOK, sub, notice)
}

// showWebhook renders the subscription's page with the deliveries the query asks for; sub's
// secret is shown if it holds one (only the answer to a subscription or a rotation does).
func (c *Console) showWebhook(w http.ResponseWriter, r *http.Request, status int, sub webhook, notice string) {
	q := r.URL.Query()
	d := &webhookDetail{webhook: sub, Secret: sub.Secret, Notice: notice, Filter: q.Get("state"), Once: c.formOnce(r)}
	d.webhook.Secret = ""
	switch d.Filter {
	case "", deliveryPending, deliveryDelivered, deliveryDead:
	default:
		c.fail(w, r, http.StatusBadRequest, "The state filter must be pending, delivered or dead (or empty: any).")
		return
	}
	var after int64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			c.fail(w, r, http.StatusBadRequest, "The page link is not one this console made: start from the first page.")
			return
		}
		after = n
	}
	ds, err := c.backend.webhookDeliveries(r.Context(), sub.ID, d.Filter, after, deliveriesPerPage)
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	for _, x := range ds {
		// A pending delivery is queued already; a redelivery would only restart its schedule.
		d.Deliveries = append(d.Deliveries, deliveryRow{webhookDelivery: x, Dead: x.State == deliveryDead,
			Redeliverable: x.State != deliveryPending && sub.State == webhookActive})
	}
	if len(ds) == deliveriesPerPage {
		next := url.Values{"after": {strconv.FormatInt(ds[len(ds)-1].ID, 10)}}
		if d.Filter != "" {
			next.Set("state", d.Filter)
		}
		d.Next = Prefix + "webhooks/" + url.PathEscape(sub.ID) + "?" + next.Encode() + "#deliveries"
	}
	c.render(w, r, status, "webhooks", webhooksView{Detail: d})
}

// deleteWebhookPage asks for confirmation before a subscription and its queue go.
func (c *Console) deleteWebhookPage(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r).readOnly {
		c.fail(w, r, http.StatusForbidden, "This key is read-only: it may look at everything and change nothing.")
		return
	}
	sub, err := c.backend.webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "webhooks", webhooksView{Confirm: &sub})
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := c.backend.deleteWebhook(r.Context(), id); err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"webhooks?deleted="+url.QueryEscape(id), http.StatusSeeOther)
}

// redeliver queues a delivery again at once: a dead letter once its receiver is repaired, or a
// delivered message the receiver lost.
func (c *Console) redeliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil || n <= 0 {
		c.fail(w, r, http.StatusNotFound, "There is no delivery "+r.PathValue("delivery")+" of webhook "+id+".")
		return
	}
	if _, err := c.backend.redeliver(r.Context(), id, n); err != nil {
		c.answerWebhookError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%swebhooks/%s?redelivered=%d#d-%d", Prefix, url.PathEscape(id), n, n), http.StatusSeeOther)
}

// answerWebhookError says why a webhook page or change could not be served, or answers 500.
func (c *Console) answerWebhookError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case isWebhookNotFound(err) && r.PathValue("delivery") != "":
		c.fail(w, r, http.StatusNotFound, "There is no delivery "+r.PathValue("delivery")+" of webhook "+r.PathValue("id")+".")
	case isWebhookNotFound(err) && r.PathValue("id") != "":
		c.fail(w, r, http.StatusNotFound, "There is no webhook subscription "+r.PathValue("id")+".")
	case isWebhookNotFound(err):
		c.fail(w, r, http.StatusNotFound, "This service manages no webhooks.")
	case isRefusedSubscription(err):
		c.fail(w, r, http.StatusBadRequest, "The service refuses this subscription: "+err.Error()+".")
	case isWebhookDisabled(err):
		c.fail(w, r, http.StatusConflict, "Not done: "+err.Error()+". Subscribe the receiver again once it is back.")
	default:
		c.internal(w, r, err)
	}
}

// formOnce is a one-time token for a form of this page that only a read-write session sees.
func (c *Console) formOnce(r *http.Request) string {
	if ss := sessionOf(r); ss != nil && !ss.readOnly {
		return c.sessions.issueOnce(ss)
	}
	return ""
}

// once spends the form's one-time token, or answers that the form was acted on already.
func (c *Console) once(w http.ResponseWriter, r *http.Request) bool {
	if c.sessions.takeOnce(sessionOf(r), r.PostFormValue("once")) {
		return true
	}
	c.fail(w, r, http.StatusConflict, "This form was sent already (a second click, or a reload of the page that answered it), "+
		"so nothing more was done. Open the Webhooks page to see the subscription as it is.")
	return false
}
