package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/internal/retry"
)

// sender makes delivery attempts over HTTP.
type sender struct {
	client *http.Client
	guard  guard
}

func newSender(cfg Config) *sender {
	g := guard{allowPrivate: cfg.AllowPrivate}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), Control: g.control}
	transport := &http.Transport{
		// No proxy from the environment: the guard checks the address the socket reaches, which
		// would be the proxy's, not the receiver's.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   min(cfg.Timeout, 5*time.Second),
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   cfg.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &sender{guard: g, client: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer, not a new target: following it would let a public receiver
		// point the dispatcher at a private one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// attempt is the result of one POST.
type attempt struct {
	status     int
	err        error
	latency    time.Duration
	retryAfter time.Duration // the receiver's Retry-After, when it gave one
}

func (a attempt) ok() bool   { return a.err == nil && a.status >= 200 && a.status < 300 }
func (a attempt) gone() bool { return a.err == nil && a.status == http.StatusGone }

func (a attempt) describe() string {
	switch {
	case a.err != nil:
		return a.err.Error()
	case a.ok():
		return ""
	default:
		return fmt.Sprintf("HTTP %d %s", a.status, http.StatusText(a.status))
	}
}

// send POSTs a delivery's body to the endpoint with the Standard Webhooks headers, signed with
// every secret in force.
func (s *sender) send(ctx context.Context, e endpoint, d delivery) attempt {
	now := time.Now()
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return attempt{err: fmt.Errorf("request: %w", err)}
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "erasure-webhooks/1")
	req.Header.Set(HeaderID, d.MessageID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if secrets := e.secrets(now); len(secrets) > 0 {
		sig, err := signatureHeader(secrets, d.MessageID, ts, body)
		if err != nil {
			return attempt{err: err}
		}
		req.Header.Set(HeaderSignature, sig)
	}
	resp, err := s.client.Do(req)
	latency := time.Since(now)
	if err != nil {
		if errors.Is(err, ErrURLNotAllowed) {
			err = ErrURLNotAllowed // the dialer's refusal, without the transport's wrapping
		}
		return attempt{err: err, latency: latency}
	}
	// Read a little, so the connection can be reused; a receiver's answer is never stored.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	return attempt{status: resp.StatusCode, latency: latency, retryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// retryDelay is the wait before retry n (1-based): the receiver's Retry-After when it gave one,
// else the schedule's step, jittered by up to a fifth either way (scheduleJitter).
func retryDelay(schedule []time.Duration, n int, a attempt) time.Duration {
	if a.retryAfter > 0 {
		return a.retryAfter
	}
	return retry.Around(schedule[n-1], scheduleJitter)
}
