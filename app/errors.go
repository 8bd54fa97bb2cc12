package app

import "errors"

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
