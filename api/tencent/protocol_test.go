package tencent_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/api/tencent"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// rewrite changes a request after the SDK signed it, as a proxy or an attacker would.
type rewrite func(*http.Request)

func (f rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

func groupList(c *iai.Client) error {
	_, err := c.GetGroupList(iai.NewGetGroupListRequest())
	return err
}

func TestSignatures(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	host := endpoint(env)

	require.NoError(t, groupList(sdk(t, host, secretID, secretKey, "POST")))
	requireCode(t, groupList(sdk(t, host, secretID, "wrong-key", "POST")), "AuthFailure.SignatureFailure")
	requireCode(t, groupList(sdk(t, host, secretID, "wrong-key", "GET")), "AuthFailure.SignatureFailure")
	requireCode(t, groupList(sdk(t, host, "AKIDsomeoneElse", secretKey, "POST")), "AuthFailure.SecretIdNotFound")

	// The Host header is signed exactly as received: the same server under another name works
	// when signed for that name, and a request whose Host changed after signing does not.
	_, port, _ := strings.Cut(host, ":")
	require.NoError(t, groupList(sdk(t, "localhost:"+port, secretID, secretKey, "POST")))
	moved := sdk(t, host, secretID, secretKey, "POST")
	moved.WithHttpTransport(rewrite(func(r *http.Request) { r.Host = "iai.tencentcloudapi.com" }))
	requireCode(t, groupList(moved), "AuthFailure.SignatureFailure")

	// So are the body and, in the GET form, the query.
	tampered := sdk(t, host, secretID, secretKey, "POST")
	tampered.WithHttpTransport(rewrite(func(r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		body = bytes.Replace(body, []byte(`"g-1"`), []byte(`"g-2"`), 1)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}))
	req := iai.NewCreateGroupRequest()
	req.GroupId, req.GroupName = str("g-1"), str("n")
	_, err := tampered.CreateGroup(req)
	requireCode(t, err, "AuthFailure.SignatureFailure")
	tamperedGet := sdk(t, host, secretID, secretKey, "GET")
	tamperedGet.WithHttpTransport(rewrite(func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "g-1", "g-2", 1) }))
	req = iai.NewCreateGroupRequest() // a request value is the SDK's to fill in: one per call
	req.GroupId, req.GroupName = str("g-1"), str("n")
	_, err = tamperedGet.CreateGroup(req)
	requireCode(t, err, "AuthFailure.SignatureFailure")

	// The API version is checked; so is the algorithm (the SDK's legacy signatures are refused).
	oldVersion := sdk(t, host, secretID, secretKey, "POST")
	oldVersion.WithHttpTransport(rewrite(func(r *http.Request) {
		r.Header["X-TC-Version"] = []string{"2017-03-12"} // the key as the SDK writes it
	}))
	requireCode(t, groupList(oldVersion), "NoSuchVersion")
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme, cpf.SignMethod = host, "HTTP", "HmacSHA256"
	legacy, err := iai.NewClient(common.NewCredential(secretID, secretKey), "", cpf)
	require.NoError(t, err)
	requireCode(t, groupList(legacy), "AuthFailure.SignatureFailure")

	// Nothing refused above was done.
	for _, id := range []string{"g-1", "g-2"} {
		info := iai.NewGetGroupInfoRequest()
		info.GroupId = str(id)
		_, err = sdk(t, host, secretID, secretKey, "POST").GetGroupInfo(info)
		requireCode(t, err, "InvalidParameterValue.GroupIdNotExist")
	}
}

// TestSignatureExpiry serves the surface with a clock ahead of the SDK's: a signature made more
// than five minutes before the server's time has expired.
func TestSignatureExpiry(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	serve := func(skew time.Duration) string {
		mux := http.NewServeMux()
		tencent.New(env.Svc.App, testenv.Logger(), tencent.Config{SecretID: secretID, SecretKey: secretKey,
			Now: func() time.Time { return time.Now().Add(skew) }}).Register(mux)
		srv := httptest.NewServer(httpx.Middleware(testenv.Logger(), func(http.ResponseWriter, *http.Request) {})(mux))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	requireCode(t, groupList(sdk(t, serve(6*time.Minute), secretID, secretKey, "POST")), "AuthFailure.SignatureExpire")
	requireCode(t, groupList(sdk(t, serve(-6*time.Minute), secretID, secretKey, "POST")), "AuthFailure.SignatureExpire")
	require.NoError(t, groupList(sdk(t, serve(4*time.Minute), secretID, secretKey, "POST")))
}

func TestWithoutCredentialsEveryCallIsRefused(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	requireCode(t, groupList(client(t, env)), "AuthFailure.SecretIdNotFound")
	requireCode(t, groupList(sdk(t, endpoint(env), "", "", "POST")), "AuthFailure.SecretIdNotFound")
}

// TestRoutes checks that the root path is the Tencent surface's alone: the other surfaces keep
// their routes, and a stray request to / still answers in Tencent's format with status 200.
func TestRoutes(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	status, body := native(t, env, http.MethodPost, "/v1/nothing", `{}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "NOT_FOUND", body["error"].(map[string]any)["code"])
	status, body = native(t, env, http.MethodPost, "/sophon/v2/face/nothing", `{}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "API_NOT_FOUND", body["error"].(map[string]any)["code"])
	status, _ = native(t, env, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, status)
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		status, body = native(t, env, method, "/", "")
		require.Equal(t, http.StatusOK, status)
		resp := body["Response"].(map[string]any)
		require.Equal(t, "AuthFailure.SignatureFailure", resp["Error"].(map[string]any)["Code"])
		require.NotEmpty(t, resp["RequestId"])
	}
}

func TestRateLimitPerAction(t *testing.T) {
	t.Run("over the bucket", func(t *testing.T) {
		t.Parallel()
		cfg := tencentConfig(t, "sqlite")
		cfg.TencentRate, cfg.TencentBurst = 0.5, 3
		env := testenv.Start(t, cfg)
		c := client(t, env)
		for range 3 {
			require.NoError(t, groupList(c))
		}
		requireCode(t, groupList(c), "RequestLimitExceeded")
		// Each action has its own bucket.
		info := iai.NewGetGroupInfoRequest()
		info.GroupId = str("nowhere")
		_, err := c.GetGroupInfo(info)
		requireCode(t, err, "InvalidParameterValue.GroupIdNotExist")
		// A refused signature spends no token of the real client's.
		for range 5 {
			requireCode(t, groupList(sdk(t, endpoint(env), secretID, "wrong", "POST")), "AuthFailure.SignatureFailure")
		}
		eventually(t, 10*time.Second, func() bool { return groupList(c) == nil }, "the bucket refills at the configured rate")
	})
	t.Run("default burst of 50", func(t *testing.T) {
		t.Parallel()
		env := testenv.Start(t, tencentConfig(t, "sqlite"))
		c := client(t, env)
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		start := time.Now()
		for range 50 {
			wg.Go(func() { errs <- groupList(c) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "a burst of 50 is allowed")
		}
		var admitted, limited atomic.Int32
		for range 8 {
			wg.Go(func() {
				for range 20 {
					switch errCode(groupList(c)) {
					case "":
						admitted.Add(1)
					case "RequestLimitExceeded":
						limited.Add(1)
					}
				}
			})
		}
		wg.Wait()
		// A bucket of 50 refilled at 50 a second admits at most 50 + 50·T requests in T seconds,
		// however fast or slow the machine sends them (under -race on a busy machine the 160
		// requests may take longer than the bucket takes to refill: then none need be refused,
		// which is why the second check is conditional, not a timing assumption).
		most := 50 + 50*time.Since(start).Seconds() + 1
		require.LessOrEqual(t, float64(50+admitted.Load()), most, "past the burst, 50 requests a second")
		if 50+160 > most {
			require.Positive(t, limited.Load(), "more requests than the bucket can admit, none refused")
		}
	})
}
