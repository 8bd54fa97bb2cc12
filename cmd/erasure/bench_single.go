package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/service"
)

// singleResult is the last line of `erasure bench --single N`.
type singleResult struct {
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

// singleConfig gives the bench's in-process server a Tencent credential of its own, for the
// SDK client to sign with, and lifts the per-action token bucket: at Tencent's default 50/s,
// back-to-back calls faster than 20 ms would measure RequestLimitExceeded, not the deletion.
func singleConfig(cfg *config.Config) {
	cfg.TencentSecretID, cfg.TencentSecretKey = "AKIDerasureBench"+events.NewID()[:8], events.NewID()
	cfg.TencentRate, cfg.TencentBurst = 1e6, 1e6
}

// singleBench seeds n persons as the bulk bench does, then deletes them one at a time through
// the official Tencent SDK over a loopback listener, on an otherwise idle server.
func singleBench(ctx context.Context, svc *service.Service, cfg config.Config, n, faces, photos, perms int, stdout io.Writer) error {
	run := events.NewID()[:8] // fresh IDs, so a kept --data can run again
	meta := events.Meta{CorrelationID: "bench-" + run, Actor: "bench"}
	start := time.Now()
	ids, err := benchSeed(ctx, svc, cfg.Logger(), meta, run, n, faces, photos, perms)
	if err != nil {
		return err
	}
	res := singleResult{Persons: n, Mode: mode(cfg), AnswersWhen: "deletion_terminal", SeedSeconds: time.Since(start).Seconds()}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
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
	client, err := iai.NewClient(common.NewCredential(cfg.TencentSecretID, cfg.TencentSecretKey), "", cpf)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, n)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		req := iai.NewDeletePersonRequest()
		req.PersonId = &id
		t0 := time.Now()
		_, err := client.DeletePerson(req)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return fmt.Errorf("DeletePerson %s: %w", id, err)
		}
		if gone, err := personGone(ctx, svc, id); err != nil {
			return err
		} else if gone {
			res.GoneAtAnswer++
		}
	}
	res.P50ms, res.P99ms = percentileMS(lat, 0.50), percentileMS(lat, 0.99)
	res.MaxMs = float64(slices.Max(lat).Microseconds()) / 1000
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(line))
	return err
}

// personGone tells whether the registry holds id as deleted with nothing left bound to it.
func personGone(ctx context.Context, svc *service.Service, id string) (bool, error) {
	p, err := svc.App.GetPerson(ctx, id)
	if errors.Is(err, domain.ErrPersonNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return p.State == string(domain.StatusDeleted) && len(p.FaceIDs)+len(p.GroupIDs)+len(p.PermissionGroupIDs) == 0, nil
}
