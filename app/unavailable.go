package app

import (
	"errors"

	"github.com/erasure-dev/erasure/internal/storeerr"
)

// ErrUnavailable means a store erasure writes to (the log, the database) cannot take the
// request now: it is down, unreachable or full. Nothing of the request is half-done (a command
// appends its events last), so the client may repeat it.
var ErrUnavailable = errors.New("storage unavailable; retry later")

// Unavailable maps err to ErrUnavailable (joined, so the cause stays readable) when it comes
// from a store that is down or full, and returns it unchanged otherwise.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !storeerr.Down(err) {
		return err
	}
	return errors.Join(ErrUnavailable, err)
}
