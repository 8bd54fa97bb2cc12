package app

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG registration photos
	_ "image/png"  // PNG registration photos
	"strings"
)

// MaxImageBase64 is Tencent's limit on an image's base64 text: 5 MB.
const MaxImageBase64 = 5 * 1024 * 1024

// DecodePhoto turns a base64 image (plain, or a data: URL as Sophon clients send) into its bytes,
// checking that it is a decodable JPEG or PNG: with no face detector, such an image is one face.
func DecodePhoto(b64 string) ([]byte, error) {
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
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImageUndecodable, err)
	}
	return data, nil
}
