package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/projections"
)

// errAuditBroken is audit verify's answer "no" (exit 1), returned after its report is printed.
var errAuditBroken = no(errors.New("the audit trail does not match the log"))

// parseInterspersed parses flags that may come before or after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func auditCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return auditVerifyCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("erasure audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := serverFlags(fs)
	person := fs.String("person", "", "only entries naming this person ID")
	request := fs.String("request", "", "only entries of this request (request id or deletion id)")
	since := fs.String("since", "", "only entries at or after this time (RFC 3339 or a date)")
	until := fs.String("until", "", "only entries at or before this time (RFC 3339 or a date)")
	format := fs.String("format", "jsonl", "output format: jsonl or csv")
	asOf := fs.String("as-of", "", "with --person: what the registry held for the person at this time")
	setUsage(fs, "audit", `Usage: erasure audit [flags]
       erasure audit --as-of T --person ID
       erasure audit verify [--file F]

Exports the audit trail of a running server, oldest first: one entry per event of the log (time,
actor, action, subject IDs, request, outcome, stream sequence), each chained to the previous one by
SHA-256. No names or biometric data. With --as-of, prints what the registry held for a person at
that time, replayed from the log (personal fields of since-deleted persons come back erased).
'erasure audit verify' recomputes the chain from the log and reports the first break (exit 1);
with --file it checks an exported trail.`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := newClient(5 * time.Minute)
	ctx := context.Background()
	if *asOf != "" {
		if *person == "" {
			return errors.New("--as-of needs --person")
		}
		var out map[string]any
		q := url.Values{"person_id": {*person}, "time": {*asOf}}
		if err := c.do(ctx, http.MethodGet, "/v1/audit/as-of?"+q.Encode(), "", nil, &out); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	var write func(projections.AuditEntry) error
	var flush func() error
	switch *format {
	case "jsonl":
		bw := bufio.NewWriter(stdout)
		enc := json.NewEncoder(bw)
		write, flush = func(e projections.AuditEntry) error { return enc.Encode(e) }, bw.Flush
	case "csv":
		cw := csv.NewWriter(stdout)
		if err := cw.Write([]string{"seq", "time", "event_id", "actor", "action", "request_id", "deletion_id", "person_ids",
			"group_ids", "permission_group_ids", "outcome", "prev_hash", "hash"}); err != nil {
			return err
		}
		write = func(e projections.AuditEntry) error {
			return cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time, e.EventID, e.Actor, e.Action, e.RequestID, e.DeletionID,
				strings.Join(e.PersonIDs, " "), strings.Join(e.GroupIDs, " "), strings.Join(e.PermissionGroupIDs, " "), e.Outcome, e.PrevHash, e.Hash})
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	default:
		return fmt.Errorf("--format must be jsonl or csv, got %q", *format)
	}
	q := url.Values{"limit": {"1000"}}
	for k, v := range map[string]string{"person_id": *person, "request_id": *request, "since": *since, "until": *until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for {
		var page struct {
			Entries []projections.AuditEntry `json:"entries"`
			Next    string                   `json:"next"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), "", nil, &page); err != nil {
			return err
		}
		for _, e := range page.Entries {
			if err := write(e); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return flush()
		}
		q.Set("after", page.Next)
	}
}

func auditVerifyCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erasure audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := serverFlags(fs)
	file := fs.String("file", "", "an exported trail (erasure audit --format jsonl) to check")
	offline := fs.Bool("offline", false, "with --file: check the file's own hashes only, without the server")
	setUsage(fs, "audit verify", `Usage: erasure audit verify [--file F [--offline]] [--server URL]

Asks the server to recompute the audit chain from the event log and compare it with the stored
trail, entry by entry; prints the report and exits 1 at the first break. With --file, also checks
an exported trail: every entry's hash matches its content, consecutive entries are chained, and
each entry is the server's (unless --offline).`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := newClient(30 * time.Minute)
	ctx := context.Background()
	report := map[string]any{}
	defer func() {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
	}()
	if *file != "" {
		entries, err := readEntries(*file)
		if err != nil {
			return err
		}
		report["file"], report["file_entries"] = *file, len(entries)
		if i, reason := projections.VerifyEntries(entries); i >= 0 {
			report["ok"], report["first_break"] = false, map[string]any{"seq": entries[i].Seq, "line": i + 1, "reason": reason}
			return errAuditBroken
		}
		if *offline {
			report["ok"] = true
			return nil
		}
	}
	// A break answers 409 with the report as its body.
	var v projections.AuditVerification
	if err := getJSON(ctx, c, "/v1/audit/verify", &v, http.StatusOK, http.StatusConflict); err != nil {
		return err
	}
	report["ok"], report["entries"], report["head"], report["checkpoint"] = v.OK, v.Entries, v.Head, v.Checkpoint
	if v.FirstBreak != nil {
		report["first_break"] = v.FirstBreak
	}
	if !v.OK {
		return errAuditBroken
	}
	if *file != "" {
		entries, _ := readEntries(*file)
		for i, e := range entries {
			var page struct {
				Entries []projections.AuditEntry `json:"entries"`
			}
			q := url.Values{"after": {strconv.FormatUint(e.Seq-1, 10)}, "limit": {"1"}}
			if err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), "", nil, &page); err != nil {
				return err
			}
			if len(page.Entries) != 1 || page.Entries[0].Seq != e.Seq || page.Entries[0].Hash != e.Hash {
				report["ok"], report["first_break"] = false, map[string]any{"seq": e.Seq, "line": i + 1, "reason": "entry is not the server's"}
				return errAuditBroken
			}
		}
	}
	return nil
}

// getJSON decodes the JSON answer of GET path if its status is one of ok; other answers are
// errors as client.do reports them.
func getJSON(ctx context.Context, c client, path string, out any, ok ...int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.base, "/")+path, nil)
	if err != nil {
		return err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w (is `erasure serve` running at %s?)", path, err, c.base)
	}
	defer resp.Body.Close()
	if !slices.Contains(ok, resp.StatusCode) {
		return c.do(ctx, http.MethodGet, path, "", nil, out)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func readEntries(path string) ([]projections.AuditEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []projections.AuditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e projections.AuditEntry
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
