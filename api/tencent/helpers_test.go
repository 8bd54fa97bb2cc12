package tencent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/config"
	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/service"
	"github.com/erasure-dev/erasure/stores"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// The one credential the test servers accept.
const (
	secretID  = "AKIDerasureTest0001"
	secretKey = "erasure-test-secret-key"
)

// tencentConfig is a test service's configuration with the Tencent credential set.
func tencentConfig(t testing.TB, dialect string) config.Config {
	cfg := testenv.Config(t, dialect)
	cfg.TencentSecretID, cfg.TencentSecretKey = secretID, secretKey
	return cfg
}

// endpoint is the host:port the SDK is pointed at, as a Tencent user would set it.
func endpoint(env *testenv.Env) string { return strings.TrimPrefix(env.HTTP.URL, "http://") }

// sdk returns the official 2018-03-01 client pointed at the server, signing with id and key and
// sending POST (or GET, the SDK's other form).
func sdk(t testing.TB, host, id, key, method string) *iai.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = host
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqMethod = method
	cpf.HttpProfile.ReqTimeout = 60
	c, err := iai.NewClient(common.NewCredential(id, key), "", cpf)
	require.NoError(t, err)
	return c
}

func client(t testing.TB, env *testenv.Env) *iai.Client {
	return sdk(t, endpoint(env), secretID, secretKey, "POST")
}

// requireCode asserts that a call failed with Tencent's code.
func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var sdkErr *sdkerrors.TencentCloudSDKError
	require.ErrorAs(t, err, &sdkErr)
	require.Equal(t, code, sdkErr.Code, sdkErr.Message)
	require.NotEmpty(t, sdkErr.RequestId, "every error carries the request id")
}

// errCode is a failed call's Tencent code, "" if it did not fail with one.
func errCode(err error) string {
	var sdkErr *sdkerrors.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		return sdkErr.Code
	}
	return ""
}

func str(s string) *string { return &s }

func u64(n uint64) *uint64 { return &n }

func strs(ss ...string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

func vals(ps []*string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// photo returns a small PNG in base64; seed makes each one's bytes distinct.
func photo(t testing.TB, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range 48 {
		img.Set(i%8, i/8, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(i), 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func createGroup(t testing.TB, c *iai.Client, id string) {
	t.Helper()
	req := iai.NewCreateGroupRequest()
	req.GroupId, req.GroupName = str(id), str("组"+id)
	_, err := c.CreateGroup(req)
	require.NoError(t, err)
}

func createPersonReq(id, group, image string) *iai.CreatePersonRequest {
	req := iai.NewCreatePersonRequest()
	req.PersonId, req.PersonName, req.GroupId, req.Image = str(id), str("李雷"), str(group), str(image)
	return req
}

func createPerson(t testing.TB, c *iai.Client, id, group string, seed int) {
	t.Helper()
	_, err := c.CreatePerson(createPersonReq(id, group, photo(t, seed)))
	require.NoError(t, err)
}

// native calls the native or Sophon surface of the same server.
func native(t testing.TB, env *testenv.Env, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, env.HTTP.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	return resp.StatusCode, out
}

// gate holds the person-deletion saga's face purge until opened, so that persons stay in the
// deleting state for as long as a test needs.
type gate struct {
	sagas.Stores
	once sync.Once
	open chan struct{}
	hit  chan struct{} // closed when a purge first waits at the gate
	hit1 sync.Once
}

func newGate() *gate { return &gate{open: make(chan struct{}), hit: make(chan struct{})} }

func (g *gate) withTarget() service.Option {
	return service.WithTarget(func(b *stores.Builtin) sagas.Stores { g.Stores = b; return g })
}

func (g *gate) PurgeFaces(ctx context.Context, ids []string) error {
	g.hit1.Do(func() { close(g.hit) })
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Stores.PurgeFaces(ctx, ids)
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// eventually polls cond every 20ms for up to d.
// afterSecondOf waits until the clock is past the second t fell in. The SDK signs the body, not
// the action, in whole seconds: a write with the body of a read made in the same second carries
// the read's signature, which the server accepts for the write only over the connection the read
// came over (docs/adr/0001). The SDK's pooled connections do not promise that (under load Go's
// transport may dial anew while the last connection is on its way back to the pool), so a test
// that is not about that rule signs its write in the next second, as a client can. At most 1 s.
func afterSecondOf(t time.Time) {
	time.Sleep(time.Until(time.Unix(t.Unix()+1, 0)))
}

func eventually(t testing.TB, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, d, 20*time.Millisecond, msg)
}
