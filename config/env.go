package config

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Variable is one environment variable erasure reads: the one source for every command's
// --help and checked against the code and the table in docs/configuration.md (env_test.go).
type Variable struct {
	Name     string
	Default  string   // as the help prints it; "" when unset means off or none
	Meaning  string   // one line
	Commands []string // the commands that read it
}

// Who reads what. The stores are opened by the service and by the commands that inspect or
// rebuild them; the server's surfaces run in serve and in bench's in-process server; the client
// commands talk to a running server.
var (
	storeCommands  = []string{"serve", "migrate", "verify", "replay", "bench"}
	serverCommands = []string{"serve", "bench"}
	clientCommands = []string{"delete", "status", "audit", "receipt get", "receipt public-key"}
)

// Variables lists every environment variable erasure reads, in the order the help prints them.
var Variables = []Variable{
	{"ERASURE_DATA", "./data", "data directory: embedded JetStream, SQLite read model, photos, keys (--data)", storeCommands},
	{"ERASURE_PHOTO_DIR", "DATA/photos", "registration photos, shared by every replica (--photo-dir)", storeCommands},
	{"NATS_URL", "", "external NATS JetStream (cluster) instead of the embedded server", storeCommands},
	{"DATABASE_URL", "", "PostgreSQL instead of the embedded SQLite read model and stores", storeCommands},
	{"ERASURE_MASTER_KEY", "generated under DATA", "base64 32-byte key wrapping the per-person keys", storeCommands},
	{"ERASURE_STREAM", "ERASURE", "JetStream stream name", storeCommands},
	{"ERASURE_STREAM_REPLICAS", "min(3, cluster size)", "stream replicas with NATS_URL (1..5)", storeCommands},
	{"ERASURE_LOG_LEVEL", "info", "log level: debug, info, warn, error (--log-level)", storeCommands},
	{"ERASURE_LOG_FORMAT", "json", "log format: json or text (--log-format)", storeCommands},
	{"ERASURE_SIGNING_KEY", "generated under DATA", "base64 Ed25519 seed or private key signing deletion receipts", serverCommands},
	{"ERASURE_HTTP_ADDR", "127.0.0.1:8080", "HTTP listen address (--http); the client commands' default server is http://ERASURE_HTTP_ADDR",
		append([]string{"serve"}, clientCommands...)},
	{"ERASURE_NATS_LISTEN", "", "also expose the embedded nats-server on this TCP address (--nats-listen)", []string{"serve"}},
	{"ERASURE_TLS_CERT", "", "PEM certificate (chain): serve speaks HTTPS only (--tls-cert)", []string{"serve"}},
	{"ERASURE_TLS_KEY", "", "PEM private key of ERASURE_TLS_CERT (--tls-key)", []string{"serve"}},
	{"ERASURE_TARGETS", "", "YAML file of external targets every deletion also deletes from (--targets)", serverCommands},
	{"ERASURE_SHUTDOWN_TIMEOUT", "10s", "graceful shutdown budget on SIGTERM/SIGINT", serverCommands},
	{"ERASURE_SAGA_ACK_WAIT", "30s", "how long a saga step or a dispatch may stay unacknowledged before another worker takes it (at least 1s)", serverCommands},
	{"ERASURE_API_KEYS", "", "bearer keys /v1 requires, name:key or name:key:read,... (required to listen beyond loopback)", serverCommands},
	{"ERASURE_CONSOLE_SESSION", "8h", "how long a console login (/ui/) lasts (1m to 720h)", serverCommands},
	{"ERASURE_SOPHON_TOKEN", "", "bearer token the Sophon surface requires (closed beyond loopback without it or API keys)", serverCommands},
	{"ERASURE_SOPHON_WAIT", "30s", "how long Sophon deleteidentities waits for its IDs (at most 10m)", serverCommands},
	{"ERASURE_TENCENT_SECRET_ID", "", "the credential Tencent signatures are checked against (with ERASURE_TENCENT_SECRET_KEY)", serverCommands},
	{"ERASURE_TENCENT_SECRET_KEY", "", "the secret of ERASURE_TENCENT_SECRET_ID", serverCommands},
	{"ERASURE_TENCENT_RATE", "50", "requests per second per Tencent action; over it RequestLimitExceeded", serverCommands},
	{"ERASURE_TENCENT_BURST", "50", "burst of each Tencent action's token bucket", serverCommands},
	{"ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD", "false", "accept Tencent requests whose body is unsigned (UNSIGNED-PAYLOAD)", serverCommands},
	{"ERASURE_ALLOWED_HOSTS", "", "host names answered besides loopback ones (name or name:port, comma-separated)", serverCommands},
	{"ERASURE_OPEN_ENDPOINTS", "metrics,openapi", "which of /metrics and /openapi.json answer without an API key (none: both need one)", serverCommands},
	{"ERASURE_BODY_TIMEOUT", "10s", "a request body idle this long, or under 1 KiB/s after it, is cut off (at most 10m)", serverCommands},
	{"ERASURE_RATE_LIMIT", "1000", "requests per second per client on every surface (off turns it off)", serverCommands},
	{"ERASURE_RATE_BURST", "2000", "burst of each client's token bucket", serverCommands},
	{"ERASURE_MAX_BULK", "4", "bulk deletion requests served at once; the next gets 429", serverCommands},
	{"ERASURE_MAX_PENDING", "2000000", "items of running deletions not yet terminal before a bulk intake waits", serverCommands},
	{"ERASURE_MAX_STREAMS_PER_CLIENT", "8", "live-progress streams open at once per client", serverCommands},
	{"ERASURE_MAX_STREAMS", "256", "live-progress streams open at once in all", serverCommands},
	{"ERASURE_WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h", "waits before each retry of a failed webhook delivery; empty: one attempt", serverCommands},
	{"ERASURE_WEBHOOK_ALLOW_PRIVATE", "false", "let webhook and callback URLs reach loopback, link-local and private addresses", serverCommands},
	{"ERASURE_WEBHOOK_TIMEOUT", "10s", "bound on one webhook delivery attempt (at most 5m)", serverCommands},
	{"ERASURE_SERVER", "http://ERASURE_HTTP_ADDR", "URL of the erasure server the client commands talk to (--server)", clientCommands},
	{"ERASURE_API_KEY", "", "the API key the client commands send (--api-key); bench --load sends it to --server",
		append(slices.Clone(clientCommands), "bench")},
}

// VariablesOf returns the variables command reads, in table order. A subcommand ("audit
// verify") the table does not name reads its command's variables.
func VariablesOf(command string) []Variable {
	if vars := variablesOf(command); len(vars) > 0 {
		return vars
	}
	if first, _, ok := strings.Cut(command, " "); ok {
		return variablesOf(first)
	}
	return nil
}

func variablesOf(command string) []Variable {
	var out []Variable
	for _, v := range Variables {
		if slices.Contains(v.Commands, command) {
			out = append(out, v)
		}
	}
	return out
}

// WriteEnvironment writes the "Environment:" paragraph of a command's help: each variable it
// reads with its default. With command "", every variable and the commands that read it.
func WriteEnvironment(w io.Writer, command string) {
	vars := Variables
	if command != "" {
		vars = VariablesOf(command)
	}
	if len(vars) == 0 {
		return
	}
	width := 0
	for _, v := range vars {
		width = max(width, len(v.Name))
	}
	fmt.Fprintln(w, "Environment:")
	for _, v := range vars {
		line := v.Meaning
		if v.Default != "" {
			line += " (default " + v.Default + ")"
		}
		if command == "" {
			line += " [" + strings.Join(v.Commands, ", ") + "]"
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, v.Name, line)
	}
}
