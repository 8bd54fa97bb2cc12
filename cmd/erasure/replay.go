package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/service"
)

func replayCmd(args []string, stdout, stderr io.Writer) error {
	var only string
	cfg, err := parse("replay", "Rebuilds read models from the log into fresh tables while the live ones keep answering, then\n"+
		"swaps them in atomically. Prints a JSON summary (events, seconds, events_per_s) as the last line.\n"+
		"Takes the data-directory lock; with DATABASE_URL it works beside running replicas.\n"+
		"Projections: registry, deletions, permissions, audit.",
		args, stderr, func(c *config.Config, fs *flag.FlagSet) {
			c.StoreFlags(fs)
			fs.StringVar(&only, "projection", "", "rebuild only these projections (comma-separated); default all")
		})
	if err != nil {
		return err
	}
	var names []string
	for n := range strings.SplitSeq(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sum, err := service.Replay(ctx, cfg, cfg.Logger(), names)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return json.NewEncoder(stdout).Encode(sum)
}
