package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/service"
)

// errLeftovers makes verify exit 1 after printing what it found.
type errLeftovers int

func (e errLeftovers) Error() string { return fmt.Sprintf("%d leftovers of deleted persons", int(e)) }

func verifyCmd(args []string, stdout, stderr io.Writer) error {
	cfg, err := parse("verify", "Scans the downstream stores, the read model and the key store for anything left of deleted\n"+
		"persons. Prints each leftover as a JSON line and exits 1 if there is any. Takes the data-directory lock.",
		args, stderr, (*config.Config).StoreFlags)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, err := service.Open(ctx, cfg, cfg.Logger(), service.ReadOnly())
	if err != nil {
		return err
	}
	defer svc.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := svc.WaitCaughtUp(waitCtx); err != nil {
		return fmt.Errorf("read model catching up with the log: %w", err)
	}
	found, err := svc.App.Verify(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, l := range found {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	if len(found) > 0 {
		return no(errLeftovers(len(found)))
	}
	fmt.Fprintln(stderr, "verify: nothing left of deleted persons")
	return nil
}
