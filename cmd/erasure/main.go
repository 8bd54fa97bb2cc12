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
	"strings"
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
  version   print the build: version, VCS revision and time, modified flag, Go version (also --version)

Run 'erasure <command> --help' for a command's flags.

Exit codes: 0 success; 1 the answer is "no" (delete/status: items failed; verify: leftovers found;
audit verify, receipt verify: it does not verify); 2 a usage error or the command could not run.

Flags are typed with two dashes (--data); flags win over environment variables.
`

// topUsage is erasure --help: the commands, then every environment variable and who reads it.
func topUsage() string {
	var b strings.Builder
	b.WriteString(usage)
	b.WriteString("\n")
	config.WriteEnvironment(&b, "")
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, topUsage())
		if len(args) == 0 {
			return exitFailed
		}
		return exitOK
	}
	var err error
	switch args[0] {
	case "version", "--version", "-version":
		err = versionCmd(args[1:], stdout, stderr)
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
		fmt.Fprintf(stderr, "erasure: unknown command %q\n\n%s", args[0], topUsage())
		return exitFailed
	}
	return exitCode(args[0], err, stderr)
}

// Exit codes, the same for every command (DESIGN §5 "Command line").
const (
	exitOK     = 0 // success: the answer is "yes"
	exitNo     = 1 // the command ran and its answer is "no": items failed, leftovers found, a chain or receipt that does not verify
	exitFailed = 2 // a usage error, or the command could not run (unreachable server, refused request, unknown deletion)
)

// noAnswers says, per command, what its answer "no" (exit 1) is; a command not named never
// answers "no".
var noAnswers = map[string]string{
	"delete":         "the deletion ended with failed items",
	"status":         "the deletion ended with failed items; 0 while it is still running",
	"verify":         "something is left of a deleted person",
	"audit verify":   "the audit chain or the exported trail does not verify",
	"receipt verify": "the receipt does not verify against the trusted key, or was altered",
	"bench --load":   "a 5xx, a lost or a duplicated outcome, an unexpected answer or a transport error",
}

// exitCodesOf is the paragraph that ends a command's --help.
func exitCodesOf(command string) string {
	no := ""
	if what, ok := noAnswers[command]; ok {
		no = fmt.Sprintf("; 1 the answer is \"no\" (%s)", what)
	}
	return "Exit codes: 0 success" + no + "; 2 a usage error (a bad flag, a missing argument)\n" +
		"or the command could not run (e.g. the server unreachable or refusing the request, an unknown\n" +
		"deletion, the data directory in use)."
}

// answerNo marks an error as the command's answer "no" rather than a failure to run: the only
// errors that exit 1. Everything else a command returns exits 2.
type answerNo struct{ err error }

func (a answerNo) Error() string { return a.err.Error() }
func (a answerNo) Unwrap() error { return a.err }

// no makes err the command's answer "no" (exit 1).
func no(err error) error { return answerNo{err} }

// exitCode prints err, if any, and maps it to the command's exit code.
func exitCode(command string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "erasure %s: %v\n", command, err)
	if errors.As(err, new(answerNo)) {
		return exitNo
	}
	return exitFailed
}

func parse(name, summary string, args []string, stderr io.Writer, flags func(*config.Config, *flag.FlagSet)) (config.Config, error) {
	cfg := config.FromEnv()
	fs := flag.NewFlagSet("erasure "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, name, fmt.Sprintf("Usage: erasure %s [flags]\n\n%s", name, summary))
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
