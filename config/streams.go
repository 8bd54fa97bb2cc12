package config

import (
	"fmt"
	"os"
	"strconv"
)

// Defaults of the live-progress stream limits (GET /v1/deletions/{id}/events). Each open stream
// holds a JetStream consumer and a connection; a dashboard follows a handful of deletions at a
// time, so these never refuse an operator while bounding what one client, or all of them, can hold.
const (
	DefaultMaxStreamsPerClient = 8
	DefaultMaxStreams          = 256
)

// Streams bounds the concurrent live-progress streams.
type Streams struct {
	// PerClient (ERASURE_MAX_STREAMS_PER_CLIENT, default 8) is how many streams one client (its
	// API key, else its IP address) may hold open at once; the next is answered 429
	// TOO_MANY_STREAMS with Retry-After.
	PerClient int
	// Total (ERASURE_MAX_STREAMS, default 256) is how many streams the server holds open at once,
	// all clients together; the next is answered the same way.
	Total int
}

func (c *Config) streamsFromEnv() {
	c.Streams = Streams{PerClient: DefaultMaxStreamsPerClient, Total: DefaultMaxStreams}
	// Unparsable values are kept as invalid (-1) so that Validate names them; 0 means the default.
	for _, n := range []struct {
		name string
		dst  *int
	}{{"ERASURE_MAX_STREAMS_PER_CLIENT", &c.Streams.PerClient}, {"ERASURE_MAX_STREAMS", &c.Streams.Total}} {
		if v := os.Getenv(n.name); v != "" {
			*n.dst = -1
			if i, err := strconv.Atoi(v); err == nil {
				*n.dst = i
			}
		}
	}
}

func (c *Config) validateStreams() error {
	if c.Streams.PerClient < 0 || c.Streams.PerClient > 1e6 {
		return fmt.Errorf("ERASURE_MAX_STREAMS_PER_CLIENT must be a whole number of concurrent event streams per client, such as %d (0 means the default)",
			DefaultMaxStreamsPerClient)
	}
	if c.Streams.Total < 0 || c.Streams.Total > 1e6 {
		return fmt.Errorf("ERASURE_MAX_STREAMS must be a whole number of concurrent event streams in all, such as %d (0 means the default)",
			DefaultMaxStreams)
	}
	return nil
}
