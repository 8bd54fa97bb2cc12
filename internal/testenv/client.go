package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client calls an erasure HTTP API (the native /v1 surface, whose answers are JSON objects) from a
// test. A request that cannot be sent, or an answer that cannot be read or is not a JSON object,
// fails the test: the test then asserts only the status and the fields it is about.
//
// It sends through http.DefaultClient (or, with a Timeout, a client on its transport), whose idle
// connections httptest.Server.Close closes, so that no keep-alive goroutine outlives a test's
// server.
type Client struct {
	T    testing.TB
	Base string // the API's root, e.g. Env.HTTP.URL; a path is appended to it
	// Timeout bounds each request; zero: none, the test's deadline bounds it. A test of a
	// server in another process, which it may kill mid-request, sets one.
	Timeout time.Duration
}

// Get sends GET Base+path.
func (c Client) Get(path string) (int, map[string]any) {
	c.T.Helper()
	return c.Do(http.MethodGet, path, "", "")
}

// Post sends body, a JSON document, to Base+path.
func (c Client) Post(path, body string) (int, map[string]any) {
	c.T.Helper()
	return c.Do(http.MethodPost, path, "application/json", body)
}

// Do sends method Base+path with body, and a Content-Type header when contentType is not empty;
// it returns the status and the JSON object answered (empty when the answer has no body).
func (c Client) Do(method, path, contentType, body string) (int, map[string]any) {
	c.T.Helper()
	req, err := http.NewRequest(method, c.Base+path, strings.NewReader(body))
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.Send(req)
}

// Send sends req, a request the test built itself (its own headers, a streamed body), and
// returns as Do does.
func (c Client) Send(req *http.Request) (int, map[string]any) {
	c.T.Helper()
	client := http.DefaultClient
	if c.Timeout > 0 {
		client = &http.Client{Timeout: c.Timeout}
	}
	method, path := req.Method, req.URL.Path
	resp, err := client.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("%s %s: %d, read the answer: %v", method, path, resp.StatusCode, err)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.T.Fatalf("%s %s: %d, the answer is not a JSON object: %q", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}
