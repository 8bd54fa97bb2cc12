package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"go/build"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// fuzzLimits are small, so that the fuzzer's mutations of a header decode quickly; the bounds
// checked scale with them.
var fuzzLimits = PhotoLimits{MaxSideJPEG: 640, MaxSide: 480}

// worstPerPixel is decodeBytes' largest estimate a pixel: a progressive CMYK JPEG.
const worstPerPixel = 4 + 4 + 4*4

// ceiling is the most that decoding any image accepted under limits may allocate: the largest
// side squared, padded as a JPEG's planes are, at the costliest bytes a pixel.
func ceiling(limits PhotoLimits) int64 {
	side := int64(max(limits.MaxSideJPEG, limits.MaxSide)) + 32
	return side*side*worstPerPixel + decodeOverhead
}

// pngDeclaring is a 1×1 PNG whose header declares w×h pixels (the IHDR patched, CRC and all): a
// decompression bomb's header in a few dozen bytes.
func pngDeclaring(tb testing.TB, w, h uint32, interlaced bool) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		tb.Fatal(err)
	}
	p := buf.Bytes()
	binary.BigEndian.PutUint32(p[16:20], w)
	binary.BigEndian.PutUint32(p[20:24], h)
	if interlaced {
		p[28] = 1
	}
	binary.BigEndian.PutUint32(p[29:33], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func encoded(tb testing.TB, img image.Image, format string) []byte {
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzDecodePhoto feeds any bytes to DecodePhoto: it never panics, answers the image or one of
// its errors, and allocates no more than decodeBytes estimated for the header (the share of the
// decode budget it takes), nor than the ceiling its limits allow, whatever the header declares.
func FuzzDecodePhoto(f *testing.F) {
	f.Add(pngDeclaring(f, 30000, 30000, false))
	f.Add(pngDeclaring(f, 30000, 30000, true))
	f.Add(pngDeclaring(f, 480, 480, true))
	f.Add(pngDeclaring(f, 1, 1<<31-1, false))
	rgba := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 7)
	}
	f.Add(encoded(f, rgba, "png"))
	f.Add(encoded(f, rgba, "jpeg"))
	f.Add(encoded(f, image.NewGray(image.Rect(0, 0, 1, 1)), "png"))
	f.Add(encoded(f, image.NewGray(image.Rect(0, 0, 1, 1)), "jpeg"))
	f.Add(encoded(f, image.NewGray16(image.Rect(0, 0, 9, 7)), "png"))
	f.Add(encoded(f, image.NewPaletted(image.Rect(0, 0, 9, 7), color.Palette{color.Black, color.Transparent}), "png"))
	f.Add(encoded(f, image.NewNRGBA64(image.Rect(0, 0, 9, 7)), "png"))
	// The standard library's own test images: progressive, CMYK, RGB and greyscale JPEGs,
	// subsampled every way, truncated files, interlaced and 16-bit PNGs.
	files, _ := filepath.Glob(filepath.Join(build.Default.GOROOT, "src", "image", "*", "testdata", "*.*"))
	more, _ := filepath.Glob(filepath.Join(build.Default.GOROOT, "src", "image", "testdata", "*.*"))
	seeded := 0
	for _, name := range append(files, more...) {
		if ext := filepath.Ext(name); ext != ".png" && ext != ".jpeg" && ext != ".jpg" {
			continue
		}
		if data, err := os.ReadFile(name); err == nil && len(data) < 64<<10 {
			f.Add(data)
			seeded++
		}
	}
	if seeded < 20 {
		f.Fatalf("only %d of the standard library's test images found under %s", seeded, build.Default.GOROOT)
	}
	bound := ceiling(fuzzLimits)
	f.Fuzz(func(t *testing.T, data []byte) {
		b64 := base64.StdEncoding.EncodeToString(data)
		estimate, headerErr := checkPhoto(data, fuzzLimits)
		// Besides the pixels: the decoded base64 (once more if the padded form fails), and the
		// error's text.
		slack := int64(2*len(b64)) + 64<<10
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, err := DecodePhoto(context.Background(), b64, fuzzLimits)
		runtime.ReadMemStats(&after)
		allocated := int64(after.TotalAlloc - before.TotalAlloc)

		switch {
		case err == nil:
			if !bytes.Equal(img, data) {
				t.Fatal("the image's bytes are not those given")
			}
		case !errors.Is(err, ErrImageUndecodable) && !errors.Is(err, ErrImageResolutionExceeded) &&
			!errors.Is(err, ErrImageEmpty) && !errors.Is(err, ErrImageTooLarge):
			t.Fatalf("unexpected error: %v", err)
		}
		if headerErr != nil && (err == nil || allocated > slack+decodeOverhead) {
			t.Fatalf("refused by its header (%v), yet DecodePhoto answered %v after allocating %d bytes", headerErr, err, allocated)
		}
		if headerErr == nil && allocated > estimate+slack {
			t.Fatalf("decoding allocated %d bytes, over its estimate %d (+%d)", allocated, estimate, slack)
		}
		if allocated > bound+slack {
			t.Fatalf("decoding allocated %d bytes, over the ceiling %d (+%d) of %+v", allocated, bound, slack, fuzzLimits)
		}
	})
}

// withScans is a JPEG whose one scan is repeated to make n: each scan is a pass over every block
// of the image, so a progressive JPEG whose scans code long runs of empty blocks in a few bytes
// each makes a CPU bomb of a few MB.
func withScans(tb testing.TB, n int) []byte {
	data := encoded(tb, image.NewGray(image.Rect(0, 0, 64, 64)), "jpeg")
	sos, eoi := bytes.Index(data, []byte{0xff, 0xda}), len(data)-2
	out := append([]byte(nil), data[:eoi]...)
	for range n - 1 {
		out = append(out, data[sos:eoi]...)
	}
	return append(out, data[eoi:]...)
}

func TestDecodePhotoBoundsTheScansOfAJPEG(t *testing.T) {
	for _, tc := range []struct {
		scans    int
		accepted bool
	}{{1, true}, {maxJPEGScans, true}, {maxJPEGScans + 1, false}, {5000, false}} {
		_, err := DecodePhoto(context.Background(), base64.StdEncoding.EncodeToString(withScans(t, tc.scans)), DefaultPhotoLimits)
		if tc.accepted && err != nil || !tc.accepted && !errors.Is(err, ErrImageUndecodable) {
			t.Errorf("%d scans: %v", tc.scans, err)
		}
	}
}

// Decodes share one memory budget: while others hold it, a decode waits for its share (with its
// request's context) rather than adding its pixels to theirs.
func TestDecodePhotoWaitsForTheMemoryBudget(t *testing.T) {
	photo := base64.StdEncoding.EncodeToString(encoded(t, image.NewGray(image.Rect(0, 0, 64, 64)), "png"))
	if err := decoding.Acquire(context.Background(), DecodeMemoryBudget); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := DecodePhoto(ctx, photo, DefaultPhotoLimits)
	decoding.Release(DecodeMemoryBudget)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the budget taken: %v, want to wait until the deadline", err)
	}
	if _, err := DecodePhoto(context.Background(), photo, DefaultPhotoLimits); err != nil {
		t.Fatalf("with the budget free: %v", err)
	}
}
