package app

import (
	"errors"

	"github.com/erasure-dev/erasure/projections"
)

// Errors of the application layer, besides the domain's sentinels which pass through wrapped.
var (
	ErrImageEmpty       = errors.New("image is empty")
	ErrImageTooLarge    = errors.New("image is larger than 5 MB of base64")
	ErrImageUndecodable = errors.New("image is not a decodable JPEG or PNG")
	// ErrImageResolutionExceeded means an image's header declares more pixels a side than the
	// surface accepts (PhotoLimits); nothing of it was decoded.
	ErrImageResolutionExceeded = errors.New("image resolution is over the limit")
	ErrNotFound                = errors.New("not found")
	ErrInvalidArgument         = errors.New("invalid argument")
	ErrBusy                    = errors.New("too many concurrent changes to one aggregate, try again")
)

// fromReadModel maps the read side's "no such row" (projections.ErrNotFound) to notFound, the
// error this layer's callers branch on (ErrNotFound or a domain sentinel, as each query
// promises); any other error passes on as the read side wrapped it. It is the one place a read
// model's absence becomes an answer.
func fromReadModel(err, notFound error) error {
	if errors.Is(err, projections.ErrNotFound) {
		return notFound
	}
	return err
}
