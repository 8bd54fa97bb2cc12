package tencent_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signTC3 signs a POST request as Tencent Cloud's API 3.0 specifies (TC3-HMAC-SHA256).
func signTC3(req *http.Request, body []byte, id, key string, ts int64) {
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	headers := "content-type:" + req.Header.Get("Content-Type") + "\nhost:" + req.Host + "\n"
	canonical := strings.Join([]string{http.MethodPost, "/", "", headers, "content-type;host", sha256hex(body)}, "\n")
	scope := date + "/iai/tc3_request"
	toSign := strings.Join([]string{"TC3-HMAC-SHA256", strconv.FormatInt(ts, 10), scope, sha256hex([]byte(canonical))}, "\n")
	k := hmacSHA256([]byte("TC3"+key), date)
	k = hmacSHA256(k, "iai")
	k = hmacSHA256(k, "tc3_request")
	req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+id+"/"+scope+
		", SignedHeaders=content-type;host, Signature="+hex.EncodeToString(hmacSHA256(k, toSign)))
}

var fuzzActions = []string{"CreateGroup", "DeleteGroup", "GetGroupInfo", "GetGroupList", "CreatePerson", "DeletePerson",
	"DeletePersonFromGroup", "GetPersonBaseInfo", "GetPersonGroupInfo", "GetPersonList", "CreateFace", "DeleteFace",
	"CopyPerson", "SearchFaces", ""}

// FuzzTencentRequest sends any body to any action of the surface, signed or not, against a real
// service: the answer is always HTTP 200 in Tencent's format, never InternalError, and a
// refused request records nothing.
func FuzzTencentRequest(f *testing.F) {
	f.Add(uint8(0), true, true, []byte(`{"GroupId":"g-1","GroupName":"G"}`))
	f.Add(uint8(4), true, true, []byte(`{"GroupId":"g-1","PersonId":"p-1","PersonName":"P"}`))
	f.Add(uint8(5), true, true, []byte(`{"PersonId":"p-1"}`))
	f.Add(uint8(9), true, false, []byte(`{"Limit":100000}`))
	f.Add(uint8(3), false, true, []byte(`{}`))
	f.Add(uint8(12), true, true, []byte(`{"PersonId":"p-1","NewPersonId":"p-2","GroupIds":["g-1"]}`))
	f.Add(uint8(2), true, true, []byte(`{"GroupId":`))
	env := testenv.Start(f, tencentConfig(f, "sqlite"))
	f.Fuzz(func(t *testing.T, action uint8, sign, v2018 bool, body []byte) {
		req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+"/", bytes.NewReader(body))
		require.NoError(t, err)
		requestID := "fuzz-" + events.NewID()
		req.Header.Set("X-Request-Id", requestID)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-TC-Action", fuzzActions[int(action)%len(fuzzActions)])
		req.Header.Set("X-TC-Version", map[bool]string{true: "2018-03-01", false: "2020-03-03"}[v2018])
		if sign {
			signTC3(req, body, secretID, secretKey, time.Now().Unix())
		}
		before := env.LastSeq(t)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
		var ans struct {
			Response struct {
				Error     *struct{ Code, Message string }
				RequestID string `json:"RequestId"`
			}
		}
		require.NoError(t, json.Unmarshal(raw, &ans), "%s", raw)
		require.Equal(t, requestID, ans.Response.RequestID)
		if ans.Response.Error != nil {
			require.NotEqual(t, "InternalError", ans.Response.Error.Code, ans.Response.Error.Message)
			if !sign {
				require.True(t, strings.HasPrefix(ans.Response.Error.Code, "AuthFailure."), ans.Response.Error.Code)
			}
			env.RequireNothingRecorded(t, before, requestID)
		}
	})
}
