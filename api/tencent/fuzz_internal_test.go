package tencent

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzParams has every kind of field the actions' parameters use.
type fuzzParams struct {
	GroupID *string           `json:"GroupId"`
	Name    string            `json:"PersonName"`
	Gender  *int64            `json:"Gender"`
	Limit   *uint64           `json:"Limit"`
	Score   float64           `json:"Score"`
	Flag    bool              `json:"Flag"`
	IDs     []*string         `json:"PersonIds"`
	Infos   []json.RawMessage `json:"PersonExDescriptionInfos"`
	Faces   []struct {
		FaceID string   `json:"FaceId"`
		Rect   *faceBox `json:"FaceRect"`
	} `json:"Faces"`
}

type faceBox struct {
	X, Y int64
}

// FuzzTencentParams: the POST body and GET query decoders never panic, whatever they are given.
func FuzzTencentParams(f *testing.F) {
	f.Add([]byte(`{"GroupId":"g1","PersonName":"n","Gender":1,"Limit":10,"PersonIds":["a","b"],"Faces":[{"FaceId":"f","FaceRect":{"X":1}}]}`),
		"GroupId=g1&PersonIds.0=a&PersonIds.1=b&Faces.0.FaceId=f&Faces.0.FaceRect.X=3&Limit=5&Flag=true")
	f.Add([]byte(`{"Limit":-1,"Gender":"x"}`), "Limit=-1&Gender=abc&Score=1e999&Infos.0.0=1")
	f.Add([]byte(`[`), "%zz&=&PersonIds.0.0.0=x")
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		var p fuzzParams
		_ = decodeBody(body, &p)
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		var g fuzzParams
		_ = decodeQuery(q, &g)
	})
}

// FuzzTencentAuthorization: parsing the Authorization header never panics, and what it accepts
// has the parts the verifier relies on.
func FuzzTencentAuthorization(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=AKID/2024-01-02/iai/tc3_request, SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(make([]byte, 32)))
	f.Add("TC3-HMAC-SHA256 Credential=//a/tc3_request, SignedHeaders=, Signature=zz")
	f.Add("HmacSHA256 x")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			require.ErrorIs(t, err, errSignatureFailure)
			return
		}
		require.NotEmpty(t, a.secretID)
		require.NotEmpty(t, a.signedHeaders)
		require.Len(t, a.signature, 32)
	})
}

// FuzzTencentVerify: a request signed with the credential verifies and any change to its body
// does not; a request with a made-up Authorization header never verifies.
func FuzzTencentVerify(f *testing.F) {
	f.Add("POST", "127.0.0.1:8080", []byte(`{"GroupId":"g1"}`), int64(0), true, uint16(3), "")
	f.Add("GET", "example.com", []byte(``), int64(-400), true, uint16(0), "")
	f.Add("POST", "h", []byte(`{}`), int64(10), false, uint16(0),
		"TC3-HMAC-SHA256 Credential=AKIDfuzz/2024-01-02/iai/tc3_request, SignedHeaders=content-type;host, Signature="+hex.EncodeToString(make([]byte, 32)))
	now := time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC)
	v := verifier{secretID: "AKIDfuzz", secretKey: "fuzz-secret-key", now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, method, host string, body []byte, skew int64, sign bool, flip uint16, auth string) {
		if method != http.MethodGet {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/", bytes.NewReader(body))
		r.Host = host
		r.Header.Set("Content-Type", "application/json")
		ts := now.Add(time.Duration(skew%600) * time.Second).Unix()
		r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
		if !sign {
			r.Header.Set("Authorization", auth)
			require.Error(t, v.verify(r, body), "a made-up signature verified")
			return
		}
		a := authorization{secretID: v.secretID, date: time.Unix(ts, 0).UTC().Format("2006-01-02"), service: "iai",
			signedHeaders: []string{"content-type", "host"}}
		sig := v.sign(a, r, body, ts, false)
		r.Header.Set("Authorization", Algorithm+" Credential="+a.secretID+"/"+a.date+"/iai/tc3_request, SignedHeaders=content-type;host, Signature="+hex.EncodeToString(sig))
		err := v.verify(r, body)
		if d := now.Sub(time.Unix(ts, 0)); d > MaxClockSkew || d < -MaxClockSkew {
			require.ErrorIs(t, err, errSignatureExpire)
			return
		}
		require.NoError(t, err)
		if len(body) > 0 {
			changed := bytes.Clone(body)
			changed[int(flip)%len(changed)] ^= 0x01
			require.ErrorIs(t, v.verify(r, changed), errSignatureFailure)
		}
	})
}
