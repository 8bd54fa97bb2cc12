package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/retry"
)

// LoadOptions configure Load. The fields are `erasure bench --load`'s flags.
type LoadOptions struct {
	// Server is the base URL of the server under load (http://127.0.0.1:8080).
	Server string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Clients run concurrently for Duration.
	Clients  int
	Duration time.Duration
	// IDsPerDeletion is how many persons each deletion request names (at most).
	IDsPerDeletion int
	// Mode is reported as is in LoadResult.Mode (where the server runs).
	Mode string
	// Logger reports progress every few seconds; nil discards it.
	Logger *slog.Logger
}

// Validate says which flag to change. It does not look at Server, which a caller that starts
// its own server knows only later; Load does.
func (o LoadOptions) Validate() error {
	if o.Clients < 1 || o.Duration <= 0 || o.IDsPerDeletion < 1 {
		return errors.New("--clients, --duration and --ids-per-deletion must be positive")
	}
	return nil
}

// LoadResult is the last line `erasure bench --load` prints. Its JSON names are a contract, as
// DeletionResult's are.
type LoadResult struct {
	Mode            string                `json:"mode"`
	Clients         int                   `json:"clients"`
	DurationSeconds float64               `json:"duration_seconds"`
	Requests        int                   `json:"requests"`
	RequestsPerS    float64               `json:"requests_per_s"`
	Creates         int                   `json:"creates"`
	Deletions       int                   `json:"deletions"`
	StatusReads     int                   `json:"status_reads"`
	PersonsDeleted  int                   `json:"persons_deleted"`
	Status          map[string]int        `json:"status"`
	Errors5xx       int                   `json:"errors_5xx"`
	RateLimited     int                   `json:"rate_limited"`
	Unexpected      int                   `json:"unexpected"`
	TransportErrors int                   `json:"transport_errors"`
	Lost            int                   `json:"lost"`
	Duplicated      int                   `json:"duplicated"`
	DrainSeconds    float64               `json:"drain_seconds"`
	Routes          map[string]RouteStats `json:"routes"`
	OK              bool                  `json:"ok"`
}

// Err is nil when the run was clean (OK), and otherwise counts what was not: the load test's
// answer "no".
func (r LoadResult) Err() error {
	if r.OK {
		return nil
	}
	return fmt.Errorf("load: %d 5xx, %d lost, %d duplicated, %d unexpected answers, %d transport errors",
		r.Errors5xx, r.Lost, r.Duplicated, r.Unexpected, r.TransportErrors)
}

// RouteStats are one route's request count and latencies.
type RouteStats struct {
	Count int     `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

// Load runs the load test against opts.Server: opts.Clients concurrent clients mix creates (with
// a photo and a permission group), deletions of a few of their persons at a time and status reads
// for opts.Duration; then every accepted deletion is followed to its end and checked: each person
// it named deleted exactly once, none lost. A run that found a 5xx, a lost or duplicated outcome,
// an unexpected answer or a transport error returns its result with OK false (see Err), not an
// error; an error means the test could not run to its end.
func Load(ctx context.Context, opts LoadOptions) (LoadResult, error) {
	if err := opts.Validate(); err != nil {
		return LoadResult{}, err
	}
	if opts.Server == "" {
		return LoadResult{}, errors.New("bench --load: no server URL to load")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &loadTest{base: strings.TrimRight(opts.Server, "/"), key: opts.APIKey, run: events.NewID()[:8], perDeletion: opts.IDsPerDeletion,
		photo: base64.StdEncoding.EncodeToString(Photo()),
		http: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
			MaxIdleConns: 2 * opts.Clients, MaxIdleConnsPerHost: 2 * opts.Clients, IdleConnTimeout: time.Minute}},
		latencies: map[string][]time.Duration{}, status: map[string]int{}}
	defer l.http.CloseIdleConnections()
	res, err := l.drive(ctx, opts.Clients, opts.Duration, opts.Logger.Info)
	res.Mode = opts.Mode
	return res, err
}

// loadTest is one load run: what its clients share, and the counts they add to under mu.
type loadTest struct {
	base, key, run, photo string
	perDeletion           int
	http                  *http.Client

	mu         sync.Mutex
	latencies  map[string][]time.Duration
	status     map[string]int
	requests   int
	c5xx, c429 int
	unexpected int
	transport  int
	deletions  []loadDeletion
	creates    int
	reads      int
}

// loadDeletion is an accepted deletion request and the persons it named.
type loadDeletion struct {
	id      string
	persons []string
}

// call sends one request and records its route's latency and status. It returns the status (0
// on a transport error) and the body.
func (l *loadTest) call(ctx context.Context, route, method, path string, body any, want ...int) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return 0, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.key != "" {
		req.Header.Set("Authorization", "Bearer "+l.key)
	}
	start := time.Now()
	resp, err := l.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
	}
	d := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			l.transport++
		}
		return 0, nil
	}
	l.requests++
	l.latencies[route] = append(l.latencies[route], d)
	l.status[strconv.Itoa(resp.StatusCode)]++
	switch {
	case resp.StatusCode >= 500:
		l.c5xx++
	case resp.StatusCode == http.StatusTooManyRequests:
		l.c429++
	case !slices.Contains(want, resp.StatusCode):
		l.unexpected++
	}
	return resp.StatusCode, raw
}

// client runs one client's mix until end: of every ten requests five create a person, two delete
// the client's persons created since its last deletion, three read a status. A request under way
// at the end is finished, not cancelled, so that every person created is known.
func (l *loadTest) client(ctx context.Context, n int, end time.Time) []string {
	door := fmt.Sprintf("L%s-c%d-door", l.run, n)
	var pending, deleted, dels []string
	for i := 0; ctx.Err() == nil && time.Now().Before(end); i++ {
		switch op := i % 10; {
		case op < 5 || (op < 7 && len(pending) == 0):
			id := fmt.Sprintf("L%s-c%d-%d", l.run, n, i)
			status, _ := l.call(ctx, "POST /v1/persons", "POST", "/v1/persons", map[string]any{
				"person_id": id, "name": "Load Person", "permission_group_ids": []string{door},
				"photos": []map[string]string{{"image_base64": l.photo}}}, http.StatusCreated)
			if status == http.StatusCreated {
				pending = append(pending, id)
				l.mu.Lock()
				l.creates++
				l.mu.Unlock()
			}
		case op < 7:
			batch := pending[:min(l.perDeletion, len(pending))]
			if id, ok := l.requestDeletion(ctx, batch); ok {
				dels = append(dels, id)
				deleted = append(deleted, batch...)
				pending = pending[len(batch):]
			}
		default:
			l.mu.Lock()
			l.reads++
			l.mu.Unlock()
			if len(dels) > 0 && op != 9 {
				l.call(ctx, "GET /v1/deletions/{id}", "GET", "/v1/deletions/"+dels[i%len(dels)], nil, http.StatusOK)
			} else if len(deleted)+len(pending) > 0 {
				all := append(deleted[:len(deleted):len(deleted)], pending...)
				l.call(ctx, "GET /v1/persons/{id}", "GET", "/v1/persons/"+url.PathEscape(all[i%len(all)]), nil, http.StatusOK, http.StatusNotFound)
			}
		}
	}
	return pending
}

func (l *loadTest) requestDeletion(ctx context.Context, persons []string) (string, bool) {
	status, raw := l.call(ctx, "POST /v1/deletions", "POST", "/v1/deletions", map[string]any{"person_ids": persons}, http.StatusAccepted)
	if status != http.StatusAccepted {
		return "", false
	}
	var out struct {
		DeletionID string `json:"deletion_id"`
	}
	if json.Unmarshal(raw, &out) != nil || out.DeletionID == "" {
		return "", false
	}
	l.mu.Lock()
	l.deletions = append(l.deletions, loadDeletion{id: out.DeletionID, persons: slices.Clone(persons)})
	l.mu.Unlock()
	return out.DeletionID, true
}

func (l *loadTest) drive(ctx context.Context, clients int, duration time.Duration, info func(string, ...any)) (LoadResult, error) {
	res := LoadResult{Clients: clients}
	start := time.Now()
	end := start.Add(duration)
	var wg sync.WaitGroup
	leftovers := make([][]string, clients)
	for n := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leftovers[n] = l.client(ctx, n, end)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for tick := time.NewTicker(5 * time.Second); ; {
		select {
		case <-done:
		case <-tick.C:
			l.mu.Lock()
			info("bench --load: running", "requests", l.requests, "creates", l.creates, "deletions", len(l.deletions), "5xx", l.c5xx)
			l.mu.Unlock()
			continue
		}
		tick.Stop()
		break
	}
	res.DurationSeconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// Every person created is deleted: what a client had not deleted yet goes in one last request.
	var rest []string
	for _, p := range leftovers {
		rest = append(rest, p...)
	}
	for from := 0; from < len(rest); from += 1000 {
		if _, ok := l.requestDeletion(ctx, rest[from:min(from+1000, len(rest))]); !ok {
			return res, fmt.Errorf("bench --load: the final deletion request was refused")
		}
	}
	drain := time.Now()
	deleted, lost, dup, err := l.verify(ctx, info)
	if err != nil {
		return res, err
	}
	res.DrainSeconds = time.Since(drain).Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	res.Requests, res.Creates, res.Deletions, res.StatusReads = l.requests, l.creates, len(l.deletions), l.reads
	res.RequestsPerS = float64(l.requests) / res.DurationSeconds
	// Every person created was named by a deletion: those not deleted are lost.
	res.PersonsDeleted, res.Lost, res.Duplicated = deleted, max(lost, l.creates-deleted), dup
	res.Status, res.Errors5xx, res.RateLimited, res.Unexpected, res.TransportErrors = l.status, l.c5xx, l.c429, l.unexpected, l.transport
	res.Routes = map[string]RouteStats{}
	for route, ds := range l.latencies {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		res.Routes[route] = RouteStats{Count: len(ds), P50ms: percentileMS(ds, 0.50), P99ms: percentileMS(ds, 0.99),
			Maxms: float64(ds[len(ds)-1].Microseconds()) / 1000}
	}
	res.OK = res.Errors5xx == 0 && res.Lost == 0 && res.Duplicated == 0 && res.Unexpected == 0 && res.TransportErrors == 0
	return res, nil
}

// verify waits until every accepted deletion has completed, then reads its items: each person
// it named must be deleted, and no person may be deleted by two requests or listed twice.
func (l *loadTest) verify(ctx context.Context, info func(string, ...any)) (deleted, lost, duplicated int, err error) {
	l.mu.Lock()
	deletions := slices.Clone(l.deletions)
	l.mu.Unlock()
	seen := map[string]int{}
	deadline := time.Now().Add(10 * time.Minute)
	last := time.Now()
	for i, d := range deletions {
		for {
			var st struct {
				State   string `json:"state"`
				Total   int    `json:"total"`
				Deleted int    `json:"deleted"`
			}
			if err := l.get(ctx, "/v1/deletions/"+d.id, &st); err != nil {
				return 0, 0, 0, err
			}
			if st.State != "running" {
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, 0, fmt.Errorf("bench --load: deletion %s still running after 10 minutes", d.id)
			}
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				info("bench --load: waiting for the deletions to complete", "completed", i, "of", len(deletions))
			}
			select {
			case <-ctx.Done():
				return 0, 0, 0, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		states := map[string]string{}
		for after := ""; ; {
			var page struct {
				Items []struct {
					PersonID string `json:"person_id"`
					State    string `json:"state"`
				} `json:"items"`
				Next *string `json:"next"`
			}
			q := url.Values{"limit": {"1000"}}
			if after != "" {
				q.Set("after", after)
			}
			if err := l.get(ctx, "/v1/deletions/"+d.id+"/items?"+q.Encode(), &page); err != nil {
				return 0, 0, 0, err
			}
			for _, it := range page.Items {
				if _, twice := states[it.PersonID]; twice {
					duplicated++
				}
				states[it.PersonID] = it.State
			}
			if page.Next == nil || len(page.Items) == 0 {
				break
			}
			after = *page.Next
		}
		for _, p := range d.persons {
			if states[p] != "deleted" {
				lost++
				continue
			}
			seen[p]++
			deleted++
			if seen[p] > 1 {
				duplicated++
			}
		}
		if len(states) != len(d.persons) {
			duplicated += max(0, len(states)-len(d.persons))
		}
	}
	return deleted, lost, duplicated, nil
}

// loadGetRetry is how long a read is retried while the server answers 429 (its rate limit, which
// the load itself runs into): up to 100 retries a second or less apart, jittered so that the
// throttled readers do not all come back in the same instant and get throttled again.
var loadGetRetry = retry.Policy{Attempts: 101, Initial: time.Second, Max: time.Second, Multiplier: 1}

func (l *loadTest) get(ctx context.Context, path string, out any) error {
	errThrottled := errors.New("429 Too Many Requests")
	return retry.Do(ctx, loadGetRetry, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "GET", l.base+path, nil)
		if err != nil {
			return retry.Permanent(err)
		}
		if l.key != "" {
			req.Header.Set("Authorization", "Bearer "+l.key)
		}
		resp, err := l.http.Do(req)
		if err != nil {
			return retry.Permanent(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return retry.Permanent(err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("GET %s: %w: %s", path, errThrottled, raw)
		}
		if resp.StatusCode != http.StatusOK {
			return retry.Permanent(fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, raw))
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return retry.Permanent(errors.Join(fmt.Errorf("GET %s", path), err))
		}
		return nil
	})
}
