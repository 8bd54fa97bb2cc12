package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestBrowserTargetsAndWebhooks drives headless Chromium through the Targets and Webhooks
// pages: an external target's figures follow a deletion in place (htmx, no reload); a webhook
// subscribed from the page to a broken receiver dead-letters its delivery, and once the
// receiver is repaired the page's Redeliver button gets it delivered. Any error the browser
// reports fails it; each page's screenshot is kept.
func TestBrowserTargetsAndWebhooks(t *testing.T) {
	path := chromium(t)
	artifacts := screenshotDir(t)

	edge := edgeTarget(t)
	rc := newReceiver(t, true)
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	withEdgeTarget(t, &cfg, edge)
	cfg.WebhookAllowPrivate = true // the receiver is on loopback
	cfg.WebhookRetrySchedule = []time.Duration{10 * time.Millisecond}
	cfg.WebhookTimeout = 5 * time.Second
	env := testenv.Start(t, cfg, oneAttempt)
	base := env.HTTP.URL
	seedPersons(t, base, []string{"tw-0", "tw-1", "locked-0"})

	b := openTab(t, path, artifacts)

	// Log in on the way to the Targets page.
	b.do("log in", chromedp.Navigate(base+"/ui/targets"), chromedp.WaitVisible(chromedp.ID("l-key")),
		chromedp.SendKeys(chromedp.ID("l-key"), opsKey+"\r"), chromedp.WaitVisible(chromedp.ID("target-figures")))
	row := `tr[data-target="edge"] `
	require.Equal(t, "0", b.text(row+`[data-figure="confirmed"]`))
	require.Equal(t, "127.0.0.1:"+strings.Split(edge.URL, ":")[2], b.text(row+"td code"), "the host only")

	// The figures follow a deletion without a reload: a mark left on the page stays.
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.body.dataset.probe = "kept", true`))
	require.NoError(t, err)
	requestDeletion(t, base, opsKey, "tw-0", "tw-1", "locked-0")
	b.waitText(row+`[data-figure="confirmed"]`, "2", 30*time.Second)
	b.waitText(row+`[data-figure="failed"]`, "1", 30*time.Second)
	b.waitText(row+`[data-figure="error"]`, "person {person_id} is locked", 30*time.Second)
	require.Equal(t, "kept", b.attr("body", "data-probe"), "the page was not reloaded: only the figures were swapped")
	b.shot("targets")

	// Subscribe a broken receiver from the page: the secret shows once.
	b.do("webhooks", chromedp.Click(chromedp.CSS(`nav a[href="/ui/webhooks"]`)), chromedp.WaitVisible(chromedp.ID("w-url")))
	b.shot("webhooks")
	b.do("subscribe", chromedp.SendKeys(chromedp.ID("w-url"), rc.srv.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`input[value="deletion.completed"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/ui/webhooks"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("w-secret")))
	b.shot("webhook-subscribed")
	require.True(t, strings.HasPrefix(b.text("#w-secret"), "whsec_"))
	id := b.text("h1 code")
	require.True(t, strings.HasPrefix(id, "wh_"), id)

	// A deletion's outcome fails twice at the receiver: a dead letter.
	deletionID := requestDeletion(t, base, opsKey, "nobody")
	b.reloadUntil(base+"/ui/webhooks/"+id+"?state=dead", `tr[data-state="dead"]`, 30*time.Second)
	require.Contains(t, b.text(`tr[data-state="dead"]`), "dead letter")
	require.Contains(t, b.text(`tr[data-state="dead"]`), "HTTP 503")
	delivery := b.attr(`tr[data-state="dead"]`, "data-delivery")
	b.shot("webhook-dead-letter")

	// Repaired, the receiver gets it from the page's Redeliver button.
	rc.repair()
	b.do("redeliver", chromedp.Click(chromedp.CSS(`tr[data-state="dead"] button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	require.Contains(t, b.text(".notice"), "Delivery "+delivery+" is queued again")
	b.shot("webhook-redelivered")
	b.reloadUntil(base+"/ui/webhooks/"+id, fmt.Sprintf(`#d-%s[data-state="delivered"]`, delivery), 30*time.Second)
	b.shot("webhook-delivered")
	webhookID := b.text(fmt.Sprintf(`#d-%s td small code`, delivery))
	require.Contains(t, rc.body(webhookID), deletionID, "the receiver has the message, under its webhook-id")

	// Deleting asks first; keep it.
	b.do("delete page", chromedp.Click(chromedp.CSS(`a.danger[href$="/delete"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/delete"]`)))
	b.shot("webhook-delete")
	b.do("keep it", chromedp.Click(chromedp.CSS(`form[action$="/delete"] a`)), chromedp.WaitVisible(chromedp.ID("deliveries")))
	require.Empty(t, b.errs.take())
}

// reloadUntil loads url again until an element matching sel is on it.
func (b *tab) reloadUntil(url, sel string, timeout time.Duration) {
	b.t.Helper()
	js := fmt.Sprintf(`document.querySelector(%q) !== null`, sel)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b.do("load "+url, chromedp.Navigate(url))
		found, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		require.NoError(b.t, err)
		if found {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("%s shows no %s after %s", url, sel, timeout)
}
