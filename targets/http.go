package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/erasure-dev/erasure/sagas"
)

// classify maps an HTTP answer to a target error: 5xx, 408 and 429 may pass (retried); any
// other 4xx will not (permanent).
func classify(target string, status int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	err := fmt.Errorf("%s answered %d %s", target, status, msg)
	if status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		return fmt.Errorf("%w: %w", sagas.ErrPermanent, err)
	}
	return err
}

// send sends one JSON request (body may be nil) with the bearer token and headers, if any. An
// unbuildable request is permanent; a failed exchange is not.
func send(ctx context.Context, client *http.Client, target, method, u string, body io.Reader, token string, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sagas.ErrPermanent, redactURL(err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, redactURL(err))
	}
	return resp, nil
}

// redactURL cuts the URL a failed exchange names down to its scheme and host: a target's URL may
// carry a token in its query or path (Go strips only a password), and the error becomes the
// item's message, shown by /v1, the console and the log.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if p, perr := url.Parse(ue.URL); perr == nil && p.Host != "" {
			ue.URL = p.Scheme + "://" + p.Host
		} else {
			ue.URL = "(the target's URL)"
		}
	}
	return err
}

// httpTarget deletes each person with one configured request; 2xx and 404/410 (already gone)
// mean deleted.
type httpTarget struct {
	spec    Spec
	token   string
	headers map[string]string
	client  *http.Client
}

func newHTTP(s Spec, token string, headers map[string]string) *httpTarget {
	return &httpTarget{spec: s, token: token, headers: headers, client: &http.Client{Timeout: s.Timeout}}
}

func (t *httpTarget) Name() string { return t.spec.Name }

// httpParallel is how many of a batch's requests one target has in flight at once.
const httpParallel = 8

func (t *httpTarget) DeletePersons(ctx context.Context, ids []string) map[string]error {
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, httpParallel)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := t.delete(ctx, id); err != nil {
				mu.Lock()
				errs[id] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func (t *httpTarget) delete(ctx context.Context, id string) error {
	u := strings.ReplaceAll(t.spec.URL, "{person_id}", url.PathEscape(id))
	var body io.Reader
	if t.spec.Body != "" {
		quoted, _ := json.Marshal(id)
		body = strings.NewReader(strings.ReplaceAll(t.spec.Body, "{person_id}", strings.Trim(string(quoted), `"`)))
	}
	resp, err := send(ctx, t.client, t.spec.Name, t.spec.Method, u, body, t.token, t.headers)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusGone:
		return nil
	}
	return classify(t.spec.Name, resp.StatusCode, raw)
}
