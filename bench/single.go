package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/service"
)

// SingleResult is the last line of `erasure bench --single N`. Its JSON names are a contract,
// as DeletionResult's are.
type SingleResult struct {
	Persons int     `json:"single_persons"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	Mode    string  `json:"mode"`
	// AnswersWhen is when DeletePerson answers: api/tencent's deletePerson calls
	// app.DeletePersonAndWait, so the answer comes once the person's deletion is terminal
	// (or FailedOperation.RequestTimeout after tencent.DefaultWait), not when it is accepted.
	AnswersWhen string `json:"answers_when"`
	// GoneAtAnswer counts the persons the registry held as deleted, with no face, group or
	// permission binding left, when their call had answered: N backs AnswersWhen up.
	GoneAtAnswer int     `json:"gone_at_answer"`
	SeedSeconds  float64 `json:"seed_seconds"`
}

// SingleOptions configure Single.
type SingleOptions struct {
	// Population is seeded first; each of its persons is then deleted with one call.
	Population
	// Mode is reported as is in SingleResult.Mode: see Mode.
	Mode string
	// SecretID and SecretKey are the Tencent credential the SDK client signs with: the
	// service's (config.Config.TencentSecretID and TencentSecretKey; see ConfigureSingle).
	SecretID, SecretKey string
	// Logger reports seeding progress; nil discards it.
	Logger *slog.Logger
}

// ConfigureSingle prepares cfg, before the service is opened on it, for Single: a Tencent
// credential of its own for the SDK client to sign with, and no per-action token bucket to
// speak of: at Tencent's default 50/s, back-to-back calls faster than 20 ms would measure
// RequestLimitExceeded, not the deletion.
func ConfigureSingle(cfg *config.Config) {
	cfg.TencentSecretID, cfg.TencentSecretKey = "AKIDerasureBench"+events.NewID()[:8], events.NewID()
	cfg.TencentRate, cfg.TencentBurst = 1e6, 1e6
}

// Single seeds opts.Population as Deletion does, then deletes its persons one at a time through
// the official Tencent SDK over a loopback listener, on an otherwise idle server, and reports
// each call's latency as the SDK's caller sees it. After each answer it checks that the person
// is gone from the registry (GoneAtAnswer).
func Single(ctx context.Context, svc *service.Service, opts SingleOptions) (SingleResult, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Validate(); err != nil {
		return SingleResult{}, err
	}
	if opts.SecretID == "" || opts.SecretKey == "" {
		return SingleResult{}, errors.New("bench --single needs the service's Tencent credential (ConfigureSingle)")
	}
	run := events.NewID()[:8] // fresh IDs, so a kept data directory can run again
	caller := app.Caller{RequestID: "bench-" + run, Actor: "bench"}
	start := time.Now()
	ids, err := seed(ctx, svc, opts.Logger, caller, run, opts.Population)
	if err != nil {
		return SingleResult{}, fmt.Errorf("seed: %w", err)
	}
	res := SingleResult{Persons: opts.Persons, Mode: opts.Mode, AnswersWhen: "deletion_terminal", SeedSeconds: time.Since(start).Seconds()}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// The client exactly as a Tencent user sets it up, but for the endpoint.
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = ln.Addr().String()
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqMethod = "POST"
	cpf.HttpProfile.ReqTimeout = 60 // above the surface's 30 s wait, so a slow deletion answers, not times out
	client, err := iai.NewClient(common.NewCredential(opts.SecretID, opts.SecretKey), "", cpf)
	if err != nil {
		return res, fmt.Errorf("new Tencent SDK client: %w", err)
	}
	lat := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		req := iai.NewDeletePersonRequest()
		req.PersonId = &id
		t0 := time.Now()
		_, err := client.DeletePerson(req)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return res, fmt.Errorf("DeletePerson %s: %w", id, err)
		}
		if gone, err := personGone(ctx, svc, id); err != nil {
			return res, err
		} else if gone {
			res.GoneAtAnswer++
		}
	}
	res.MaxMs = float64(slices.Max(lat).Microseconds()) / 1000
	res.P50ms, res.P99ms = percentileMS(lat, 0.50), percentileMS(lat, 0.99)
	return res, nil
}

// personGone tells whether the registry holds id as deleted with nothing left bound to it.
func personGone(ctx context.Context, svc *service.Service, id string) (bool, error) {
	p, err := svc.App.GetPerson(ctx, id)
	if errors.Is(err, domain.ErrPersonNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("person %s: %w", id, err)
	}
	return p.State == string(domain.StatusDeleted) && len(p.FaceIDs)+len(p.GroupIDs)+len(p.PermissionGroupIDs) == 0, nil
}
