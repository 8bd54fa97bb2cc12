package testenv

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

// PNG returns a w×h greyscale PNG; seed makes each one's bytes distinct.
func PNG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.Pix[0] = uint8(seed)
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// JPEG returns a w×h colour JPEG; seed makes each one's bytes distinct.
func JPEG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{uint8(seed), uint8(seed >> 8), 200, 255})
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

// PNGDeclaring returns a PNG whose header declares w×h pixels while it holds the pixel data of a
// 1×1 image: the header of a decompression bomb (a real one holds w×h pixels of zeros, which
// compress a thousandfold), in a few dozen bytes. A decoder that trusts the header allocates
// w×h pixels before it finds the data short.
func PNGDeclaring(t testing.TB, w, h int) []byte {
	t.Helper()
	p := PNG(t, 1, 1, 0)
	// The signature (8 bytes), then the IHDR chunk: length, "IHDR", width, height, ..., CRC.
	require.Equal(t, "IHDR", string(p[12:16]))
	binary.BigEndian.PutUint32(p[16:20], uint32(w))
	binary.BigEndian.PutUint32(p[20:24], uint32(h))
	binary.BigEndian.PutUint32(p[29:33], crc32.ChecksumIEEE(p[12:29]))
	return p
}
