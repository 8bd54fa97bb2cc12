package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// client talks to a running erasure server over its native API.
type client struct {
	base string
	key  string // API key sent as a bearer token; none when empty
	http *http.Client
}

// serverFlags registers --server and --api-key, the flags of every command that talks to a
// running server, and returns the client they name once fs is parsed.
func serverFlags(fs *flag.FlagSet) func(timeout time.Duration) client {
	server := fs.String("server", defaultServer(), "URL of the erasure server (env ERASURE_SERVER, else http://ERASURE_HTTP_ADDR)")
	// The key's default is not shown in --help (it is a secret), and ERASURE_API_KEY keeps it out
	// of the process list, where a flag's value is visible.
	key := fs.String("api-key", "", "API key sent as a bearer token (default: env ERASURE_API_KEY, which keeps it out of the process list)")
	return func(timeout time.Duration) client {
		k := *key
		if k == "" {
			k = os.Getenv("ERASURE_API_KEY")
		}
		return client{base: *server, key: k, http: &http.Client{Timeout: timeout}}
	}
}

func defaultServer() string {
	if s := os.Getenv("ERASURE_SERVER"); s != "" {
		return s
	}
	addr := os.Getenv("ERASURE_HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return "http://" + addr
}

func (c client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is `erasure serve` running at %s?)", method, path, err, c.base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s: %s", e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type deletionStatus struct {
	DeletionID string `json:"deletion_id"`
	State      string `json:"state"`
	Total      int    `json:"total"`
	Pending    int    `json:"pending"`
	Deleted    int    `json:"deleted"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
}

func deleteCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erasure delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := serverFlags(fs)
	file := fs.String("file", "", "read person IDs from this file, one a line; - for standard input")
	group := fs.String("group", "", "remove only this group membership (the person is deleted when it was the last)")
	key := fs.String("idempotency-key", "", "repeat-safe key: the same key returns the first deletion")
	retry := fs.String("retry-failed", "", "retry the failed items of this deletion id instead of starting one")
	noWait := fs.Bool("no-wait", false, "print the deletion id and return without waiting for the outcome")
	setUsage(fs, "delete", "Usage: erasure delete [flags] [ID...]\n\n"+
		"Deletes persons completely (permission bindings, faces, photos) through a running server, shows\n"+
		"its progress on standard error (a bar with count, rate and ETA on a terminal, else a line every\n"+
		"few seconds), then prints the summary as JSON. When items failed, 'erasure status ID' lists them\n"+
		"by code and 'erasure delete --retry-failed ID' retries them.\n"+
		"With --no-wait, prints the deletion id and exits 0 once the request is accepted.")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	c := newClient(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var id string
	if *retry != "" {
		var out struct {
			Retried int `json:"retried"`
		}
		if err := c.do(ctx, http.MethodPost, "/v1/deletions/"+url.PathEscape(*retry)+"/retry", "", nil, &out); err != nil {
			return err
		}
		id = *retry
		if out.Retried == 0 {
			// Nothing to wait for: the summary as it stands, without a progress bar or a rate.
			var st deletionStatus
			if err := c.do(ctx, http.MethodGet, "/v1/deletions/"+url.PathEscape(id), "", nil, &st); err != nil {
				return err
			}
			if err := json.NewEncoder(stdout).Encode(st); err != nil {
				return err
			}
			if st.Failed == 0 {
				fmt.Fprintf(stderr, "nothing to retry: deletion %s has no failed items (%s; deleted %d, cancelled %d, pending %d of %d)\n",
					id, st.State, st.Deleted, st.Cancelled, st.Pending, st.Total)
				return nil
			}
			// Only items that failed at a step are retried; an unknown or invalid ID never will be.
			fmt.Fprintf(stderr, "nothing to retry: none of the %d failed items of %s failed at a step (an unknown or invalid ID stays failed); 'erasure status %s' lists them by code\n",
				st.Failed, id, id)
			return no(fmt.Errorf("%d of %d items failed: see erasure status %s", st.Failed, st.Total, id))
		}
		fmt.Fprintf(stderr, "retrying %d failed items of %s\n", out.Retried, id)
	} else {
		body, err := idSource(*file, ids)
		if err != nil {
			return err
		}
		defer body.Close()
		q := url.Values{}
		if *group != "" {
			q.Set("group_id", *group)
		}
		if *key != "" {
			q.Set("idempotency_key", *key)
		}
		var out struct {
			DeletionID string `json:"deletion_id"`
		}
		// Streamed as text/plain: millions of IDs never sit in memory here or in the server.
		if err := c.do(ctx, http.MethodPost, "/v1/deletions?"+q.Encode(), "text/plain", body, &out); err != nil {
			return err
		}
		id = out.DeletionID
	}
	if *noWait {
		fmt.Fprintln(stdout, id)
		return nil
	}
	st, err := waitWithProgress(ctx, c, id, stderr)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(st); err != nil {
		return err
	}
	if st.Failed > 0 {
		fmt.Fprintf(stderr, "%d items failed: 'erasure status %s' lists them by code; 'erasure delete --retry-failed %s' retries them\n",
			st.Failed, id, id)
		return no(fmt.Errorf("%d of %d items failed: see erasure status %s", st.Failed, st.Total, id))
	}
	return nil
}

func idSource(file string, args []string) (io.ReadCloser, error) {
	switch {
	case file == "-":
		return io.NopCloser(bufio.NewReader(os.Stdin)), nil
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		return f, nil
	case len(args) > 0:
		return io.NopCloser(strings.NewReader(strings.Join(args, "\n"))), nil
	}
	return nil, errors.New("name person IDs as arguments, or --file F (- for standard input)")
}

// progressLineEvery is how often delete prints a progress line when standard error is not a
// terminal (a file, a pipe, a CI log): plain lines instead of the bar's \r frames.
var progressLineEvery = 5 * time.Second

// isTerminal reports whether w is a terminal, where a progress bar may redraw itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows how far a deletion is: Update with each status read, Done at the end.
type progress interface {
	Update(st deletionStatus)
	Done(st deletionStatus)
}

// barProgress redraws a bar (count, rate, ETA) on a terminal.
type barProgress struct {
	w   io.Writer
	id  string
	bar *progressbar.ProgressBar
}

func (p *barProgress) Update(st deletionStatus) {
	if p.bar == nil {
		w := p.w
		p.bar = progressbar.NewOptions(st.Total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(p.id),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("persons"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	}
	_ = p.bar.Set(st.Total - st.Pending)
}

func (p *barProgress) Done(st deletionStatus) {
	p.Update(st)
	_ = p.bar.Finish()
}

// lineProgress prints a plain line every progressLineEvery: what a log file or a pipe can hold.
type lineProgress struct {
	w         io.Writer
	id        string
	start     time.Time
	last      time.Time
	firstDone int
	haveFirst bool
}

func (p *lineProgress) Update(st deletionStatus) {
	now := time.Now()
	if !p.haveFirst {
		p.start, p.last, p.firstDone, p.haveFirst = now, now, st.Total-st.Pending, true
		fmt.Fprintf(p.w, "%s: %d of %d done\n", p.id, st.Total-st.Pending, st.Total)
		return
	}
	if now.Sub(p.last) < progressLineEvery {
		return
	}
	p.last = now
	done := st.Total - st.Pending
	line := fmt.Sprintf("%s: %d of %d done (deleted %d, failed %d, cancelled %d)", p.id, done, st.Total, st.Deleted, st.Failed, st.Cancelled)
	if secs := now.Sub(p.start).Seconds(); secs > 0 && done > p.firstDone {
		line += fmt.Sprintf(", %.0f persons/s", float64(done-p.firstDone)/secs)
	}
	fmt.Fprintln(p.w, line)
}

func (p *lineProgress) Done(deletionStatus) {}

func waitWithProgress(ctx context.Context, c client, id string, stderr io.Writer) (deletionStatus, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var p progress = &lineProgress{w: stderr, id: id}
	if isTerminal(stderr) {
		p = &barProgress{w: stderr, id: id}
	}
	for {
		var st deletionStatus
		if err := c.do(ctx, http.MethodGet, "/v1/deletions/"+url.PathEscape(id), "", nil, &st); err != nil {
			return st, err
		}
		if st.State != "running" {
			p.Done(st)
			fmt.Fprintf(stderr, "deleted %d, failed %d, cancelled %d of %d\n", st.Deleted, st.Failed, st.Cancelled, st.Total)
			return st, nil
		}
		p.Update(st)
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return st, fmt.Errorf("stopped waiting; the deletion goes on: erasure status %s", id)
		case <-tick.C:
		}
	}
}

func statusCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erasure status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := serverFlags(fs)
	setUsage(fs, "status", "Usage: erasure status [flags] DELETION_ID\n\nPrints a deletion request's state, counters and failures by code as JSON.")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("name one deletion id")
	}
	c := newClient(30 * time.Second)
	ctx := context.Background()
	id := url.PathEscape(pos[0])
	// One answer decoded twice: printed whole, and its counters read for the exit code.
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/v1/deletions/"+id, "", nil, &raw); err != nil {
		return err
	}
	var st map[string]any
	var counts deletionStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &counts); err != nil {
		return err
	}
	// The failures by code, from every page of failed items.
	byCode := map[string]int{}
	for after := ""; ; {
		var page struct {
			Items []struct {
				Error *struct {
					Code string `json:"code"`
				} `json:"error"`
			} `json:"items"`
			Next *string `json:"next"`
		}
		path := "/v1/deletions/" + id + "/items?state=failed&limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		if err := c.do(ctx, http.MethodGet, path, "", nil, &page); err != nil {
			return err
		}
		for _, it := range page.Items {
			if it.Error != nil {
				byCode[it.Error.Code]++
			}
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	st["failures_by_code"] = byCode
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return err
	}
	// A running deletion has no answer yet: items failed so far may still be retried.
	if counts.State != "running" && counts.Failed > 0 {
		return no(fmt.Errorf("%d of %d items failed (%s)", counts.Failed, counts.Total, counts.State))
	}
	return nil
}
