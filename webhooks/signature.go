package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret (Standard Webhooks): the rest is the base64 key.
const SecretPrefix = "whsec_"

// secretBytes is the size of a signing key: as long as the SHA-256 block's output.
const secretBytes = 32

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// NewSecret returns a fresh signing secret: "whsec_" and 32 random bytes in base64.
func NewSecret() string {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("webhooks: no randomness: %v", err)) // crypto/rand never fails on Linux
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Sign returns the v1 signature of one delivery attempt: the base64 HMAC-SHA256, keyed by the
// secret's decoded key, of "id.timestamp.body".
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return "", fmt.Errorf("signing secret is not whsec_ and base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// signatureHeader signs with every secret in force, newest first, space-separated
// ("v1,<sig> v1,<sig>"): during a rotation's overlap the receiver may still hold the old one.
func signatureHeader(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, id, timestamp, body)
		if err != nil {
			return "", err
		}
		parts = append(parts, "v1,"+sig)
	}
	return strings.Join(parts, " "), nil
}
