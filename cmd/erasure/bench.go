package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/bench"
	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/service"
)

// tempDataDir is --data's default for bench: a fresh temporary directory.
const tempDataDir = "(a new temporary directory)"

// benchCmd runs `erasure bench`: the flags, an in-process service, one of package bench's
// measurements, and its result as the last line of stdout (logs go to stderr).
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if wantsLoad(args) {
		return loadCmd(args, stdout, stderr)
	}
	var pop bench.Population
	var keep bool
	var cpuProfile, replayProfile, memProfile string
	var intake, single int
	cfg, err := parse("bench", "Runs the whole system in-process, seeds N persons through the batched internal path (not timed),\n"+
		"deletes them all in one bulk request end to end, measures the plain-SQL floor and a replay in the same run,\n"+
		"and prints one JSON line last. Without --data it works in a fresh temporary directory.\n"+
		"With --intake or --single it measures that instead (see the flags).",
		args, stderr, func(c *config.Config, fs *flag.FlagSet) {
			c.StoreFlags(fs)
			fs.IntVar(&pop.Persons, "persons", 10000, "persons to seed and delete")
			fs.IntVar(&pop.Faces, "faces", 3, "face records per person (at most 5)")
			fs.IntVar(&pop.Photos, "photos", 2, "registration photos per person (at most --faces)")
			fs.IntVar(&pop.PermissionGroups, "permission-groups", 2, "permission groups each person is bound to")
			fs.BoolVar(&keep, "keep", false, "keep the temporary data directory")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the deletion phase (with --intake: of the intake) to this file")
			fs.StringVar(&replayProfile, "replay-cpuprofile", "", "write a CPU profile of the replay phase to this file")
			fs.StringVar(&memProfile, "memprofile", "", "write the allocations made until the deletion ends to this file, and those made until it\nstarts to FILE.seeded (go tool pprof -sample_index=alloc_objects -base FILE.seeded: the deletion's)")
			fs.IntVar(&intake, "intake", 0, "instead: stream N IDs of persons that need not exist as one text/plain request over HTTP,\nand report the intake rate and the time until every item is terminal")
			fs.IntVar(&single, "single", 0, "instead: seed N persons, then delete them one at a time with N sequential Tencent DeletePerson\ncalls over loopback HTTP, signed as the official Tencent Cloud SDK signs them (TC3-HMAC-SHA256),\nand report each call's latency as the SDK's caller sees it (p50, p99, max)")
			c.DataDir = tempDataDir
		})
	if err != nil {
		return err
	}
	if err := pop.Validate(); err != nil {
		return err
	}
	if cfg.DataDir == tempDataDir {
		if cfg.DataDir, err = os.MkdirTemp("", "erasure-bench-"); err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(cfg.DataDir)
		}
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	if single > 0 {
		bench.ConfigureSingle(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	var profile io.Writer
	if cpuProfile != "" && single == 0 {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		profile = f
	}
	var replayCPU io.Writer
	if replayProfile != "" && intake == 0 && single == 0 {
		f, err := os.Create(replayProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		replayCPU = f
	}
	var allocsSeeded, allocsDeleted io.Writer
	if memProfile != "" && intake == 0 && single == 0 {
		seeded, err := os.Create(memProfile + ".seeded")
		if err != nil {
			return err
		}
		defer seeded.Close()
		deleted, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer deleted.Close()
		allocsSeeded, allocsDeleted = seeded, deleted
	}
	logger := cfg.Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, err := service.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()
	if err := svc.WaitCaughtUp(ctx); err != nil {
		return err
	}
	var res any
	switch {
	case intake > 0:
		res, err = bench.Intake(ctx, svc, intake, profile)
	case single > 0:
		pop.Persons = single
		res, err = bench.Single(ctx, svc, bench.SingleOptions{Population: pop, Mode: bench.Mode(cfg),
			SecretID: cfg.TencentSecretID, SecretKey: cfg.TencentSecretKey, Logger: logger})
	default:
		res, err = bench.Deletion(ctx, svc, bench.DeletionOptions{Population: pop, Mode: bench.Mode(cfg), CPUProfile: profile, ReplayCPUProfile: replayCPU, AllocsSeeded: allocsSeeded, AllocsDeleted: allocsDeleted, Logger: logger})
	}
	if err != nil {
		return err
	}
	return printLine(stdout, res)
}

// wantsLoad reports whether bench was asked for the load test (--load), whose flags differ.
func wantsLoad(args []string) bool {
	for _, a := range args {
		if a == "--load" || a == "-load" || a == "--load=true" || a == "-load=true" {
			return true
		}
	}
	return false
}

// loadCmd runs `erasure bench --load` against --server, or against an in-process server it
// starts on a fresh --data; it answers "no" (exit 1) when the run was not clean.
func loadCmd(args []string, stdout, stderr io.Writer) error {
	var load bool
	opts := bench.LoadOptions{Mode: "server"}
	cfg, err := parse("bench --load", "Load test: --clients concurrent clients create persons (with a photo and a permission group),\n"+
		"delete them a few at a time and read statuses for --duration, against --server or an in-process server\n"+
		"(embedded, or NATS_URL/DATABASE_URL). Then it waits for every accepted deletion and checks that each\n"+
		"person was deleted exactly once. Prints one JSON line last; exit 1 on any 5xx, lost or duplicated outcome.",
		args, stderr, func(c *config.Config, fs *flag.FlagSet) {
			c.StoreFlags(fs)
			fs.BoolVar(&load, "load", false, "run the load test (this mode)")
			fs.IntVar(&opts.Clients, "clients", 200, "concurrent clients")
			fs.DurationVar(&opts.Duration, "duration", 60*time.Second, "how long the clients run")
			fs.StringVar(&opts.Server, "server", "", "URL of a running server (default: an in-process server on a fresh --data)")
			fs.IntVar(&opts.IDsPerDeletion, "ids-per-deletion", 5, "persons each deletion request names")
			c.DataDir = tempDataDir
		})
	if err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts.Logger = cfg.Logger()
	opts.APIKey = os.Getenv("ERASURE_API_KEY")
	if opts.Server == "" {
		if cfg.DataDir == tempDataDir {
			if cfg.DataDir, err = os.MkdirTemp("", "erasure-load-"); err != nil {
				return err
			}
			defer os.RemoveAll(cfg.DataDir)
		}
		cfg.HTTPAddr = "127.0.0.1:0"
		if opts.APIKey == "" {
			if keys, _ := cfg.Keys(); len(keys) > 0 {
				opts.APIKey = keys[0].Key
			}
		}
		svc, err := service.Open(ctx, cfg, opts.Logger)
		if err != nil {
			return err
		}
		defer svc.Close()
		if err := svc.WaitCaughtUp(ctx); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return err
		}
		serveCtx, stopServing := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- svc.ServeListener(serveCtx, ln) }()
		defer func() { stopServing(); <-served }()
		opts.Server = "http://" + ln.Addr().String()
		opts.Mode = "in-process " + bench.Mode(cfg)
	}
	res, err := bench.Load(ctx, opts)
	if err != nil {
		return err
	}
	if err := printLine(stdout, res); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return no(err)
	}
	return nil
}

// printLine writes res as one JSON line: the last line a bench prints, read by scripts.
func printLine(stdout io.Writer, res any) error {
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(line))
	return err
}
