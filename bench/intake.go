package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"time"

	"github.com/erasure-dev/erasure/service"
)

// IntakeResult is the last line of `erasure bench --intake N`. Its JSON names are a contract,
// as DeletionResult's are.
type IntakeResult struct {
	IDs             int     `json:"ids"`
	IntakeSeconds   float64 `json:"intake_seconds"`
	IntakeIDsPerS   float64 `json:"intake_ids_per_s"`
	TerminalSeconds float64 `json:"terminal_seconds"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
}

// Intake streams n IDs of persons that need not exist (intake-000000000, ...) through svc's
// native API as one text/plain request over loopback HTTP, as a client with a file of IDs would,
// and times the request until it is accepted (the IDs durably in the log) and until every item
// is terminal. profile, when set, receives a CPU profile of the intake (until the request is
// accepted).
func Intake(ctx context.Context, svc *service.Service, n int, profile io.Writer) (IntakeResult, error) {
	if n < 1 {
		return IntakeResult{}, errors.New("--intake must be at least 1")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return IntakeResult{}, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<16)
		for i := range n {
			fmt.Fprintf(bw, "intake-%09d\n", i)
		}
		_ = bw.Flush()
		_ = pw.Close()
	}()
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return IntakeResult{}, fmt.Errorf("start the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile() // the error paths; stopped once the request is accepted
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+"/v1/deletions", pr)
	if err != nil {
		return IntakeResult{}, err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		_ = pr.CloseWithError(err) // the writer goroutine is not left blocked
		return IntakeResult{}, fmt.Errorf("intake: %w", err)
	}
	var out struct {
		DeletionID string `json:"deletion_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return IntakeResult{}, fmt.Errorf("intake: HTTP %d: %v", resp.StatusCode, err)
	}
	res := IntakeResult{IDs: n, IntakeSeconds: time.Since(start).Seconds()}
	if profile != nil {
		pprof.StopCPUProfile()
	}
	res.IntakeIDsPerS = float64(n) / res.IntakeSeconds
	for {
		d, err := svc.App.GetDeletion(ctx, out.DeletionID)
		if err != nil {
			return res, fmt.Errorf("deletion %s: %w", out.DeletionID, err)
		}
		if d.State != "running" {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	res.TerminalSeconds = time.Since(start).Seconds()
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}
