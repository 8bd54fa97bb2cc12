package tencent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the one signature method the surface accepts (API 3.0's); the SDK's legacy
// HmacSHA1/HmacSHA256 form signatures are refused.
const Algorithm = "TC3-HMAC-SHA256"

// MaxClockSkew is how far a request's X-TC-Timestamp may be from the server's clock, as Tencent
// Cloud allows: an older signature is expired, so a captured request cannot be replayed later.
const MaxClockSkew = 5 * time.Minute

// authorization is a parsed TC3 Authorization header.
type authorization struct {
	secretID, date, service string
	signedHeaders           []string
	signature               []byte
}

func parseAuthorization(h string) (authorization, error) {
	algorithm, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" {
		return authorization{}, fmt.Errorf("%w: no Authorization header", errSignatureFailure)
	}
	if algorithm != Algorithm {
		return authorization{}, fmt.Errorf("%w: the algorithm must be %s, got %q", errSignatureFailure, Algorithm, algorithm)
	}
	var a authorization
	var credential, signed, signature string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 4 || scope[3] != "tc3_request" || scope[0] == "" {
		return authorization{}, fmt.Errorf("%w: Credential must be SecretId/Date/Service/tc3_request", errSignatureFailure)
	}
	a.secretID, a.date, a.service = scope[0], scope[1], scope[2]
	if signed == "" {
		return authorization{}, fmt.Errorf("%w: no SignedHeaders", errSignatureFailure)
	}
	a.signedHeaders = strings.Split(signed, ";")
	var err error
	if a.signature, err = hex.DecodeString(signature); err != nil || len(a.signature) != sha256.Size {
		return authorization{}, fmt.Errorf("%w: Signature must be 64 hex digits", errSignatureFailure)
	}
	return a, nil
}

// verifier checks TC3-HMAC-SHA256 signatures against one credential.
type verifier struct {
	secretID, secretKey string
	now                 func() time.Time
	// allowUnsigned accepts X-TC-Content-SHA256: UNSIGNED-PAYLOAD.
	allowUnsigned bool
}

// verify checks r's signature over its method, query (GET), signed headers and body. The Host
// header is taken exactly as received: a request signed for another host does not verify.
func (v verifier) verify(r *http.Request, body []byte) error {
	a, ts, err := v.authenticate(r)
	if err != nil {
		return err
	}
	return v.check(r, a, ts, body)
}

// authenticate checks all that the headers alone can show: the credential, the timestamp's
// window, the credential's date, that host is signed and that the payload is. It returns the
// parsed Authorization and the signing time (X-TC-Timestamp). The body is read only once this
// passes, so a client without a recent request's headers cannot make the server buffer one.
func (v verifier) authenticate(r *http.Request) (authorization, int64, error) {
	if v.secretID == "" {
		return authorization{}, 0, fmt.Errorf("%w: no Tencent credential is configured (ERASURE_TENCENT_SECRET_ID, ERASURE_TENCENT_SECRET_KEY)", errSecretIDNotFound)
	}
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return authorization{}, 0, err
	}
	if a.secretID != v.secretID {
		return authorization{}, 0, fmt.Errorf("%w: %q", errSecretIDNotFound, a.secretID)
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return authorization{}, 0, fmt.Errorf("%w: X-TC-Timestamp must be a Unix time in seconds", errSignatureFailure)
	}
	signedAt := time.Unix(ts, 0)
	if skew := v.now().Sub(signedAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return authorization{}, 0, fmt.Errorf("%w: signed at %s, the server's time is %s (at most %s apart)", errSignatureExpire,
			signedAt.UTC().Format(time.RFC3339), v.now().UTC().Format(time.RFC3339), MaxClockSkew)
	}
	if a.date != signedAt.UTC().Format("2006-01-02") {
		return authorization{}, 0, fmt.Errorf("%w: the credential's date is not X-TC-Timestamp's (UTC)", errSignatureFailure)
	}
	hasHost := false
	for _, h := range a.signedHeaders {
		hasHost = hasHost || h == "host"
	}
	if !hasHost {
		return authorization{}, 0, fmt.Errorf("%w: SignedHeaders must include host", errSignatureFailure)
	}
	if unsignedPayload(r) && !v.allowUnsigned {
		return authorization{}, 0, errUnsignedPayload
	}
	return a, ts, nil
}

// check verifies the signature of a request that authenticate passed, over its body. Any header
// among SignedHeaders (x-tc-action, x-tc-version, x-tc-timestamp when a client signs them) is
// verified with its value as the handler reads it.
func (v verifier) check(r *http.Request, a authorization, ts int64, body []byte) error {
	// Tencent's documentation lower-cases header values; its Go SDK signs them as sent. Either
	// form verifies.
	for _, lower := range []bool{false, true} {
		if hmac.Equal(a.signature, v.sign(a, r, body, ts, lower)) {
			return nil
		}
	}
	return errSignatureFailure
}

// unsignedPayload reports whether the client left the body out of the signature.
func unsignedPayload(r *http.Request) bool {
	return r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD"
}

func (v verifier) sign(a authorization, r *http.Request, body []byte, ts int64, lower bool) []byte {
	var headers strings.Builder
	for _, name := range a.signedHeaders {
		value := r.Header.Get(name)
		if name == "host" {
			value = r.Host
		}
		value = strings.TrimSpace(value)
		if lower {
			value = strings.ToLower(value)
		}
		headers.WriteString(strings.ToLower(name) + ":" + value + "\n")
	}
	payload := sha256hex(body)
	if unsignedPayload(r) {
		payload = sha256hex([]byte("UNSIGNED-PAYLOAD"))
	}
	query := ""
	if r.Method == http.MethodGet {
		query = r.URL.RawQuery
	}
	canonical := strings.Join([]string{r.Method, "/", query, headers.String(), strings.Join(a.signedHeaders, ";"), payload}, "\n")
	scope := a.date + "/" + a.service + "/tc3_request"
	stringToSign := strings.Join([]string{Algorithm, strconv.FormatInt(ts, 10), scope, sha256hex([]byte(canonical))}, "\n")
	key := hmacSHA256([]byte("TC3"+v.secretKey), a.date)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, "tc3_request")
	return hmacSHA256(key, stringToSign)
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
