// Package config is erasure's one configuration struct, filled from flags and ERASURE_*
// variables (flags win), and validated at start with messages that say what to change.
package config

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is everything `erasure serve` and the commands that open the stores need.
type Config struct {
	DataDir         string        // --data, ERASURE_DATA: JetStream, SQLite, photos, master key
	HTTPAddr        string        // --http, ERASURE_HTTP_ADDR
	NATSURL         string        // NATS_URL: external JetStream instead of the embedded server
	DatabaseURL     string        // DATABASE_URL: PostgreSQL instead of embedded SQLite
	NATSListen      string        // --nats-listen, ERASURE_NATS_LISTEN: expose the embedded server
	MasterKey       string        // ERASURE_MASTER_KEY: base64 32 bytes; default generated under --data
	Stream          string        // ERASURE_STREAM: stream name
	StreamReplicas  int           // ERASURE_STREAM_REPLICAS: default min(3, cluster size)
	ShutdownTimeout time.Duration // ERASURE_SHUTDOWN_TIMEOUT
	LogLevel        string        // --log-level, ERASURE_LOG_LEVEL: debug, info, warn, error
	LogFormat       string        // --log-format, ERASURE_LOG_FORMAT: json or text
	// SophonWait (ERASURE_SOPHON_WAIT, default 30s) bounds how long a Sophon deleteidentities
	// call waits for its IDs to be terminal; those still running are answered as pending.
	SophonWait time.Duration
	// SagaAckWait (ERASURE_SAGA_ACK_WAIT, default 30s) is how long a saga step, or a request's
	// dispatch, may stay unacknowledged before JetStream gives it to another worker: the time to
	// recover the work of a replica that died. It must exceed the step retry budget (about 10s).
	SagaAckWait time.Duration
	// TencentSecretID and TencentSecretKey (ERASURE_TENCENT_SECRET_ID, ERASURE_TENCENT_SECRET_KEY)
	// are the one credential the Tencent IAI surface verifies TC3-HMAC-SHA256 signatures against.
	// Without them every Tencent call answers AuthFailure.SecretIdNotFound.
	TencentSecretID  string
	TencentSecretKey string
	// TencentRate (ERASURE_TENCENT_RATE, default 50) and TencentBurst (ERASURE_TENCENT_BURST,
	// default 50) size the token bucket of each Tencent action, in requests per second: Tencent's
	// own default limit (0 means the default). Over it a call answers RequestLimitExceeded.
	TencentRate  float64
	TencentBurst int
	// TencentAllowUnsignedPayload (ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD, default false) accepts
	// Tencent requests sent with X-TC-Content-SHA256: UNSIGNED-PAYLOAD. Their body is not signed,
	// so anyone who sees one may send another body under its signature until it is first used.
	TencentAllowUnsignedPayload bool
	tencentUnsignedInvalid      string
	// SigningKey (ERASURE_SIGNING_KEY) is the Ed25519 key that signs deletion receipts: base64 of a
	// 32-byte seed or 64-byte private key; default generated under --data (signing.key, 0600).
	SigningKey string
	// Security and limits (security.go).
	//
	// APIKeys (ERASURE_API_KEYS, "name:key,name:key") are the bearer keys /v1 requires: always
	// when set, and `serve` refuses a non-loopback address without them. A key's name becomes
	// the actor of the events its requests record.
	APIKeys string
	// SophonToken (ERASURE_SOPHON_TOKEN) is the bearer token the Sophon surface requires when set;
	// without it, the surface is open on a loopback address and closed on any other.
	SophonToken string
	// TLSCert and TLSKey (--tls-cert, --tls-key, ERASURE_TLS_CERT, ERASURE_TLS_KEY) are PEM files:
	// with them `serve` speaks HTTPS only.
	TLSCert, TLSKey string
	// TargetsFile (--targets, ERASURE_TARGETS) lists the external targets (Sophon boxes, Tencent
	// IAI libraries, HTTP services) every deletion also deletes the person from; none: only the
	// built-in stores.
	TargetsFile string
	// PhotoDir (--photo-dir, ERASURE_PHOTO_DIR; default DataDir/photos) holds the registration
	// photos. Replicas of one deployment must share it (a shared volume), since a photo stored
	// through one replica is read and purged through any other.
	PhotoDir string
	// RateLimit (ERASURE_RATE_LIMIT, default 1000; "off" or a negative number turns it off) and
	// RateBurst (ERASURE_RATE_BURST, default 2000) size each client's token bucket on every
	// surface, a client being its API key or its IP address; over it: 429 with Retry-After.
	RateLimit float64
	RateBurst int
	// MaxBulk (ERASURE_MAX_BULK, default 4) is how many bulk deletion requests (streamed IDs) are
	// served at once; the next is answered 429 TOO_MANY_BULK_REQUESTS.
	MaxBulk int
	// MaxPending (ERASURE_MAX_PENDING, default 2,000,000) bounds the items of running deletions
	// not yet terminal: past it, a bulk intake waits before recording more, so the upload slows
	// instead of the backlog growing without bound.
	MaxPending int
	// OpenEndpoints (ERASURE_OPEN_ENDPOINTS, default "metrics,openapi"; "none" closes both) names
	// which of /metrics and /openapi.json answer without an API key; a closed one requires a key
	// as /v1 does (when keys are set). /healthz and /readyz are always open.
	OpenEndpoints string
	// AllowedHosts (ERASURE_ALLOWED_HOSTS: names, or name:port, separated by commas) are the
	// names beyond loopback ones that the server answers to in the Host header. Without API keys
	// only loopback names and these are answered (a web page cannot rebind its name to
	// 127.0.0.1); with keys, any Host is, unless this is set.
	AllowedHosts string
	// ConsoleSession (ERASURE_CONSOLE_SESSION, default 8h) is how long a login to the console at
	// /ui/ lasts before the key must be given again.
	ConsoleSession time.Duration
	// BodyTimeout (ERASURE_BODY_TIMEOUT, default 10s) cuts off a request body that sends nothing
	// for that long, or that averages under 1 KiB/s once that long has passed.
	BodyTimeout time.Duration
	// Webhooks (webhooks.go).
	//
	// WebhookRetrySchedule (ERASURE_WEBHOOK_RETRY_SCHEDULE, default 5s,5m,30m,2h,5h,10h,10h) is
	// the wait before each retry of a failed webhook delivery (jittered); after the last retry the
	// delivery is dead-lettered. WebhookAllowPrivate (ERASURE_WEBHOOK_ALLOW_PRIVATE) lets webhook
	// and callback URLs reach loopback, link-local and private addresses. WebhookTimeout
	// (ERASURE_WEBHOOK_TIMEOUT, default 10s) bounds one delivery attempt.
	WebhookRetrySchedule       []time.Duration
	WebhookAllowPrivate        bool
	WebhookTimeout             time.Duration
	webhookAllowPrivateInvalid string
	// Streams (streams.go) bounds the concurrent live-progress event streams.
	Streams Streams
}

// FromEnv returns the defaults overridden by the environment.
func FromEnv() Config {
	c := Config{
		DataDir:         env("ERASURE_DATA", "./data"),
		HTTPAddr:        env("ERASURE_HTTP_ADDR", "127.0.0.1:8080"),
		NATSURL:         os.Getenv("NATS_URL"),
		DatabaseURL:     os.Getenv("DATABASE_URL"),
		NATSListen:      os.Getenv("ERASURE_NATS_LISTEN"),
		MasterKey:       os.Getenv("ERASURE_MASTER_KEY"),
		SigningKey:      os.Getenv("ERASURE_SIGNING_KEY"),
		Stream:          env("ERASURE_STREAM", "ERASURE"),
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        env("ERASURE_LOG_LEVEL", "info"),
		LogFormat:       env("ERASURE_LOG_FORMAT", "json"),
		SophonWait:      30 * time.Second,
		SagaAckWait:     30 * time.Second,
		TargetsFile:     os.Getenv("ERASURE_TARGETS"),
		PhotoDir:        os.Getenv("ERASURE_PHOTO_DIR"),
	}
	c.TencentSecretID, c.TencentSecretKey = os.Getenv("ERASURE_TENCENT_SECRET_ID"), os.Getenv("ERASURE_TENCENT_SECRET_KEY")
	c.TencentRate, c.TencentBurst = 50, 50
	// Unparsable values are kept as invalid (-1) so that Validate names them.
	if v := os.Getenv("ERASURE_TENCENT_RATE"); v != "" {
		c.TencentRate = -1
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			c.TencentRate = f
		}
	}
	if v := os.Getenv("ERASURE_TENCENT_BURST"); v != "" {
		c.TencentBurst = -1
		if n, err := strconv.Atoi(v); err == nil {
			c.TencentBurst = n
		}
	}
	c.securityFromEnv()
	c.tencentFromEnv()
	c.webhooksFromEnv()
	c.streamsFromEnv()
	if d, err := time.ParseDuration(os.Getenv("ERASURE_SAGA_ACK_WAIT")); err == nil {
		c.SagaAckWait = d
	}
	if n, err := strconv.Atoi(os.Getenv("ERASURE_STREAM_REPLICAS")); err == nil {
		c.StreamReplicas = n
	}
	if d, err := time.ParseDuration(os.Getenv("ERASURE_SHUTDOWN_TIMEOUT")); err == nil {
		c.ShutdownTimeout = d
	}
	if v := os.Getenv("ERASURE_SOPHON_WAIT"); v != "" {
		// An unparsable value is kept as invalid (-1) so that Validate names it, rather than
		// silently falling back to the default.
		c.SophonWait = -1
		if d, err := time.ParseDuration(v); err == nil {
			c.SophonWait = d
		}
	}
	return c
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// StoreFlags registers the flags of every command that opens the stores.
func (c *Config) StoreFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory: embedded JetStream, SQLite read model, photos, master key (env ERASURE_DATA)")
	fs.StringVar(&c.PhotoDir, "photo-dir", c.PhotoDir, "registration photos, shared by every replica (env ERASURE_PHOTO_DIR; default DATA/photos)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error (env ERASURE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or text (env ERASURE_LOG_FORMAT)")
}

// ServeFlags registers the flags of `erasure serve`.
func (c *Config) ServeFlags(fs *flag.FlagSet) {
	c.StoreFlags(fs)
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "HTTP listen address (env ERASURE_HTTP_ADDR)")
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "also expose the embedded nats-server on this TCP address (env ERASURE_NATS_LISTEN)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve HTTPS with this PEM certificate (chain); needs --tls-key (env ERASURE_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the PEM private key of --tls-cert (env ERASURE_TLS_KEY)")
	fs.StringVar(&c.TargetsFile, "targets", c.TargetsFile, "YAML file of external targets every deletion also deletes from: Sophon boxes, Tencent IAI, HTTP (env ERASURE_TARGETS)")
}

// Photos returns the directory of the registration photos.
func (c *Config) Photos() string {
	if c.PhotoDir != "" {
		return c.PhotoDir
	}
	return filepath.Join(c.DataDir, "photos")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("--data (ERASURE_DATA) must name a directory")
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return fmt.Errorf("--http (ERASURE_HTTP_ADDR) %q must be host:port: %v", c.HTTPAddr, err)
		}
	}
	if c.NATSListen != "" {
		if c.NATSURL != "" {
			return fmt.Errorf("--nats-listen applies to the embedded nats-server; unset NATS_URL or drop --nats-listen")
		}
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			return fmt.Errorf("--nats-listen %q must be host:port: %v", c.NATSListen, err)
		}
	}
	if c.StreamReplicas < 0 || c.StreamReplicas > 5 {
		return fmt.Errorf("ERASURE_STREAM_REPLICAS must be 1..5, got %d", c.StreamReplicas)
	}
	if c.SophonWait < 0 || c.SophonWait > 10*time.Minute {
		return fmt.Errorf("ERASURE_SOPHON_WAIT must be a duration of at most 10m, such as 30s (0 means the default, 30s)")
	}
	if c.SagaAckWait < time.Second {
		return fmt.Errorf("ERASURE_SAGA_ACK_WAIT must be a duration of at least 1s, such as 30s")
	}
	if (c.TencentSecretID == "") != (c.TencentSecretKey == "") {
		return fmt.Errorf("set both ERASURE_TENCENT_SECRET_ID and ERASURE_TENCENT_SECRET_KEY, or neither (the Tencent surface then refuses every call)")
	}
	if !(c.TencentRate >= 0) || c.TencentRate > 1e6 {
		return fmt.Errorf("ERASURE_TENCENT_RATE must be a number of requests per second per Tencent action, such as 50 (0 means the default, 50)")
	}
	if c.TencentBurst < 0 || c.TencentBurst > 1e6 {
		return fmt.Errorf("ERASURE_TENCENT_BURST must be a whole number of requests, such as 50 (0 means the default, 50)")
	}
	if err := c.validateTencent(); err != nil {
		return err
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if err := c.validateStreams(); err != nil {
		return err
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("--log-format must be json or text, got %q", c.LogFormat)
	}
	return nil
}

// Level parses LogLevel.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	return l, nil
}

// Logger returns the structured logger the configuration asks for, writing to standard error.
func (c *Config) Logger() *slog.Logger {
	level, _ := c.Level()
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
