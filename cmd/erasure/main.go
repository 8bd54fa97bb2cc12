// Command erasure deletes people from face-recognition systems completely, provably and at
// scale. See `erasure --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/service"
)

const usage = `erasure: an event-sourced orchestrator that deletes people from face-recognition systems.

Usage:
  erasure <command> [flags]

Commands:
  serve     run the service (embedded JetStream and SQLite under --data unless NATS_URL/DATABASE_URL)
  migrate   apply the embedded database migrations and exit
  delete    delete persons through a running server (IDs as arguments, --file F or -), with progress
  status    show a deletion request's state and counters
  verify    scan the stores for anything left of deleted persons (exit 1 if any)
  replay    rebuild read models from the log into fresh tables and swap them in, print JSON
  audit     export the audit trail (jsonl or csv), a person's state at a time, or verify the chain
  receipt   verify a signed deletion receipt offline, or fetch one
  bench     end-to-end benchmark: seed N persons, delete them in one bulk request, print JSON;
            bench --load: concurrent clients mixing creates, deletions and reads (p99 per route)

Run 'erasure <command> --help' for a command's flags.

Environment:
  NATS_URL            external NATS JetStream cluster instead of the embedded server
  DATABASE_URL        PostgreSQL instead of the embedded SQLite read model
  ERASURE_DATA        data directory (default ./data)
  ERASURE_HTTP_ADDR   HTTP listen address (default 127.0.0.1:8080)
  ERASURE_MASTER_KEY  base64 32-byte master key (default: generated under the data directory)
  ERASURE_SIGNING_KEY base64 Ed25519 key signing deletion receipts (default: generated under the data directory)
  ERASURE_SERVER      server URL for delete and status (default http://ERASURE_HTTP_ADDR)
  ERASURE_API_KEYS    name:key,... bearer keys /v1 requires (required to listen beyond loopback)
  ERASURE_API_KEY     the key delete, status, audit and receipt send
  ERASURE_SOPHON_TOKEN bearer token the Sophon surface requires (off beyond loopback without it)
  ERASURE_TENCENT_SECRET_ID, ERASURE_TENCENT_SECRET_KEY  the credential Tencent signatures are checked against
  ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD  accept Tencent requests whose body is unsigned (default false)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "migrate":
		err = migrate(args[1:], stderr)
	case "delete":
		err = deleteCmd(args[1:], stdout, stderr)
	case "status":
		err = statusCmd(args[1:], stdout, stderr)
	case "verify":
		err = verifyCmd(args[1:], stdout, stderr)
	case "replay":
		err = replayCmd(args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(args[1:], stdout, stderr)
	case "receipt":
		err = receiptCmd(args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "erasure: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "erasure %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func parse(name, summary string, args []string, stderr io.Writer, flags func(*config.Config, *flag.FlagSet)) (config.Config, error) {
	cfg := config.FromEnv()
	fs := flag.NewFlagSet("erasure "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: erasure %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	flags(&cfg, fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, cfg.Validate()
}

func serve(args []string, stderr io.Writer) error {
	cfg, err := parse("serve", "Runs the service until SIGINT or SIGTERM, then shuts down within 10 s.", args, stderr, (*config.Config).ServeFlags)
	if err != nil {
		return err
	}
	if err := cfg.CheckServe(cfg.HTTPAddr); err != nil {
		return err
	}
	logger := cfg.Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	svc, err := service.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	serveErr := svc.Serve(ctx)
	start := time.Now()
	svc.Close()
	logger.Info("erasure stopped", "shutdown_ms", time.Since(start).Milliseconds())
	return serveErr
}

func migrate(args []string, stderr io.Writer) error {
	cfg, err := parse("migrate", "Applies the embedded migrations (read model, key store, downstream stores) and exits.", args, stderr, (*config.Config).StoreFlags)
	if err != nil {
		return err
	}
	if err := service.Migrate(context.Background(), cfg); err != nil {
		return err
	}
	cfg.Logger().Info("migrations applied", "data", cfg.DataDir, "postgres", cfg.DatabaseURL != "")
	return nil
}
