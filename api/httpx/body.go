package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// pacedBody fails its reads with ErrSlowBody once the client falls behind: nothing for idle, or,
// counting only the time spent waiting in Read, under minRate bytes per second after idle, or
// (when total > 0) not complete once total has been spent waiting in all. It enforces this with
// the connection's read deadline, so a read blocked on a silent client ends.
type pacedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	idle    time.Duration
	minRate float64 // bytes per second
	total   time.Duration
	onCut   func()

	n      int64         // bytes read
	waited time.Duration // time spent blocked in Read
	err    error         // ErrSlowBody, once cut off
}

// pace wraps body, or returns it as is when the connection takes no read deadline (a recorder in
// a test).
func pace(w http.ResponseWriter, body io.ReadCloser, idle time.Duration, minRate float64, total time.Duration, onCut func()) io.ReadCloser {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return body
	}
	return &pacedBody{ReadCloser: body, rc: rc, idle: idle, minRate: minRate, total: total, onCut: onCut}
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Byte n is due once the reads have waited idle + n/minRate in all, and never later than idle
	// from now. A deadline already past still returns what the connection has buffered.
	due := min(b.idle, b.idle+time.Duration(float64(b.n+1)/b.minRate*float64(time.Second))-b.waited)
	if b.total > 0 {
		due = min(due, b.total-b.waited)
	}
	start := time.Now()
	_ = b.rc.SetReadDeadline(start.Add(max(0, due)))
	n, err := b.ReadCloser.Read(p)
	b.waited += time.Since(start)
	b.n += int64(n)
	// At the body's end net/http clears the deadline itself, as it starts reading ahead on the
	// connection to notice a client that leaves: the deadline cannot cancel a request whose
	// handler works on after its body.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.err = fmt.Errorf("%w: the body sent %d bytes in %s of waiting; it must send something every %s, and %.0f bytes per second on average after that",
			ErrSlowBody, b.n, b.waited.Round(time.Millisecond), b.idle, b.minRate)
		if b.total > 0 && b.waited >= b.total {
			b.err = fmt.Errorf("%w: the body sent %d bytes in %s of waiting; a large body from a client without an API key must be complete within %s",
				ErrSlowBody, b.n, b.waited.Round(time.Millisecond), b.total)
		}
		b.onCut()
		return n, b.err
	}
	return n, err
}
