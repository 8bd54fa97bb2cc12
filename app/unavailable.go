package app

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/erasure-dev/erasure/internal/storeerr"
)

// ErrUnavailable means a store erasure writes to (the log, the database) cannot take the
// request now: it is down, unreachable or full. Nothing of the request is half-done (a command
// appends its events last), so the client may repeat it. When the log did not confirm an
// append in time, the outcome is unknown: the append may still be committed (errUnconfirmed).
var ErrUnavailable = errors.New("storage unavailable; retry later")

var errUnconfirmed = errors.New("the log did not confirm in time: the request may have been recorded; check before repeating a create")

// Unavailable maps err to ErrUnavailable (joined, so the cause stays readable) when it comes
// from a store that is down or full, and returns it unchanged otherwise.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !storeerr.Down(err) {
		return err
	}
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return errors.Join(ErrUnavailable, errUnconfirmed, err)
	}
	return errors.Join(ErrUnavailable, err)
}
