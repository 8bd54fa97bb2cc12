package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG registration photos
	_ "image/png"  // PNG registration photos
	"strings"

	"golang.org/x/sync/semaphore"
)

// MaxImageBase64 is Tencent's limit on an image's base64 text: 5 MB.
const MaxImageBase64 = 5 * 1024 * 1024

// MaxPhotoSide is the native and Sophon surfaces' limit on a photo's sides, in pixels: a
// 4096×4096 image decodes in at most a few hundred MB, and no face photo needs more.
const MaxPhotoSide = 4096

// PhotoLimits bound the dimensions a photo's header may declare, per format: they are checked
// before any pixel is decoded, so that a few bytes declaring 30000×30000 pixels (a decompression
// bomb) cost nothing. There is no minimum: with no face detector, a 1×1 image is one face.
type PhotoLimits struct {
	MaxSideJPEG int // the longest side of a JPEG
	MaxSide     int // the longest side of any other format (PNG)
}

// DefaultPhotoLimits are the native and Sophon surfaces' limits: MaxPhotoSide a side, any format.
var DefaultPhotoLimits = PhotoLimits{MaxSideJPEG: MaxPhotoSide, MaxSide: MaxPhotoSide}

func (l PhotoLimits) maxSide(format string) int {
	if format == "jpeg" {
		return l.MaxSideJPEG
	}
	return l.MaxSide
}

// DecodeMemoryBudget bounds the memory that the photos being decoded at one moment may take, all
// requests of the process together: each decode first takes its estimated share (decodeBytes),
// waiting, with its request's context, while others hold the rest. An image whose estimate alone
// is over the budget (only a progressive CMYK or RGB JPEG near MaxPhotoSide a side) takes the
// whole of it and decodes alone.
const DecodeMemoryBudget = 256 << 20

var decoding = semaphore.NewWeighted(DecodeMemoryBudget)

// DecodePhoto turns a base64 image (plain, or a data: URL as Sophon clients send) into its bytes,
// checking that it is a decodable JPEG or PNG within limits: with no face detector, such an image
// is one face. The header's dimensions are checked first (ErrImageResolutionExceeded); the pixels
// are then decoded in full, since only that finds a truncated or corrupt image, within the
// process's DecodeMemoryBudget.
func DecodePhoto(ctx context.Context, b64 string, limits PhotoLimits) ([]byte, error) {
	s := strings.TrimSpace(b64)
	if strings.HasPrefix(s, "data:") {
		i := strings.Index(s, ",")
		if i < 0 || !strings.Contains(s[:i], ";base64") {
			return nil, ErrImageUndecodable
		}
		s = s[i+1:]
	}
	if s == "" {
		return nil, ErrImageEmpty
	}
	if len(s) > MaxImageBase64 {
		return nil, ErrImageTooLarge
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: bad base64", ErrImageUndecodable)
		}
	}
	cost, err := checkPhoto(data, limits)
	if err != nil {
		return nil, err
	}
	weight := min(cost, DecodeMemoryBudget)
	if err := decoding.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	defer decoding.Release(weight)
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImageUndecodable, err)
	}
	return data, nil
}

// checkPhoto reads an image's header, refuses it when its format or dimensions are not
// acceptable, and returns an upper bound of the bytes decoding it allocates.
func checkPhoto(data []byte, limits PhotoLimits) (int64, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrImageUndecodable, err)
	}
	if format != "jpeg" && format != "png" {
		// Another package of the program may register more formats; photos are JPEG or PNG.
		return 0, fmt.Errorf("%w: %s", ErrImageUndecodable, format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, fmt.Errorf("%w: %s of %dx%d pixels", ErrImageUndecodable, format, cfg.Width, cfg.Height)
	}
	if side := limits.maxSide(format); cfg.Width > side || cfg.Height > side {
		return 0, fmt.Errorf("%w: a %dx%d %s, at most %d px a side", ErrImageResolutionExceeded, cfg.Width, cfg.Height, strings.ToUpper(format), side)
	}
	// Each scan of a JPEG is a pass over every block of the image, and a progressive scan can
	// code thousands of empty blocks in a byte: a few MB of scans would take minutes of CPU.
	// A scan starts with the marker FF DA, which a file holds elsewhere only by chance in a
	// segment's payload (entropy-coded data stuffs every FF with 00): counting those too
	// overcounts a real photo by a few at most.
	if format == "jpeg" {
		if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
			return 0, fmt.Errorf("%w: %d scans, at most %d", ErrImageUndecodable, n, maxJPEGScans)
		}
	}
	return decodeBytes(data, format, cfg), nil
}

// maxJPEGScans bounds the scans of a JPEG: a progressive one has about ten (libjpeg's default
// script), and an EXIF thumbnail inside it a few more.
const maxJPEGScans = 100

// decodeOverhead covers what a decoder allocates besides its pixel planes: its own state, the
// Huffman tables, zlib's window, the bufio reader that image.Decode wraps the input in.
const decodeOverhead = 1 << 20

// decodeBytes is an upper bound of the bytes the standard library's decoders allocate to decode
// an image whose header is cfg (FuzzDecodePhoto checks it against what they do allocate).
func decodeBytes(data []byte, format string, cfg image.Config) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	if format == "png" {
		// IHDR (checked by DecodeConfig): bit depth at byte 24, colour type at 25, interlace at
		// 28. A paletted image stays one byte a pixel; any other becomes 4 (8 at 16 bits):
		// greyscale too when a tRNS chunk, which DecodeConfig does not read, makes it NRGBA.
		perPixel := int64(4)
		switch {
		case data[24] == 16:
			perPixel = 8
		case data[25] == 3:
			perPixel = 1
		}
		n := w * h * perPixel
		if data[28] == 1 {
			n *= 2 // Adam7: the seven passes' images, merged into the full one
		}
		return n + 2*(8*w+1) + decodeOverhead // and the current and previous rows
	}
	// JPEG: every plane is padded to whole MCUs, at most 32 px more a side.
	px := (w + 32) * (h + 32)
	var components, perPixel int64
	switch cfg.ColorModel {
	case color.GrayModel:
		components, perPixel = 1, 1
	case color.CMYKModel:
		components, perPixel = 4, 4+4 // the four planes, then the interleaved CMYK image
	default:
		// Y, Cb and Cr planes, and an RGBA image when the file turns out to be RGB (an Adobe
		// marker after the frame header, which DecodeConfig does not read, can say so).
		components, perPixel = 3, 3+4
	}
	// A progressive JPEG keeps every block's coefficients until the last scan: 64 int32 for 64
	// pixels of each component. Its frame header is the marker FF C2, which a baseline file holds
	// only by chance in a segment's payload (entropy-coded data stuffs every FF with 00): counting
	// such a file as progressive only overestimates.
	if bytes.Contains(data, []byte{0xff, 0xc2}) {
		perPixel += 4 * components
	}
	return px*perPixel + decodeOverhead
}
