package tencent_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
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

// wire is a signed request as it crossed the network: what an eavesdropper keeps to send again.
type wire struct {
	method, host, query string
	header              http.Header
	body                []byte
}

// recorder is a transport that keeps a copy of every request the SDK sends, then delivers it.
type recorder struct {
	mu   sync.Mutex
	sent []wire
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	rec.mu.Lock()
	rec.sent = append(rec.sent, wire{method: r.Method, host: r.Host, query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
	rec.mu.Unlock()
	if r.Host == "" {
		rec.sent[len(rec.sent)-1].host = r.URL.Host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (rec *recorder) last(t testing.TB) wire {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.sent)
	return rec.sent[len(rec.sent)-1]
}

// recording returns an SDK client whose requests are recorded.
func recording(t testing.TB, env *testenv.Env, opts ...func(*profile.ClientProfile)) (*iai.Client, *recorder) {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = endpoint(env), "HTTP"
	for _, o := range opts {
		o(cpf)
	}
	c, err := iai.NewClient(common.NewCredential(secretID, secretKey), "", cpf)
	require.NoError(t, err)
	rec := &recorder{}
	c.WithHttpTransport(rec)
	return c, rec
}

// answer is a Tencent answer's Response.
type answer map[string]any

func (a answer) code() string {
	if e, ok := a["Error"].(map[string]any); ok {
		return e["Code"].(string)
	}
	return ""
}

func (a answer) message() string {
	if e, ok := a["Error"].(map[string]any); ok {
		return e["Message"].(string)
	}
	return ""
}

// resend sends w to the server at base after change (nil: unchanged), as someone who captured it
// would, and returns the answer without its RequestId.
func resend(t testing.TB, base string, w wire, change func(*http.Request)) answer {
	t.Helper()
	// Someone who captured a request sends it over a connection of their own.
	return resendOn(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, base, w, change)
}

// resendOn is resend over client's connections (one kept alive: a client's own).
func resendOn(t testing.TB, client *http.Client, base string, w wire, change func(*http.Request)) answer {
	t.Helper()
	u := base + "/"
	if w.query != "" {
		u += "?" + w.query
	}
	req, err := http.NewRequest(w.method, u, bytes.NewReader(w.body))
	require.NoError(t, err)
	for k, vs := range w.header { // the SDK writes keys such as X-TC-Action as is: canonical here
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Host = w.host
	if change != nil {
		change(req)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", raw)
	var out struct{ Response answer }
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	require.NotEmpty(t, out.Response["RequestId"])
	delete(out.Response, "RequestId")
	return out.Response
}

// signed builds a POST to base signed at ts over the named headers (lower-case, host and
// content-type among them), as API 3.0 specifies; the SDK signs only content-type;host.
func signed(t testing.TB, base, action string, body []byte, ts int64, headers ...string) wire {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	w := wire{method: http.MethodPost, host: u.Host, header: http.Header{}, body: body}
	w.header.Set("Content-Type", "application/json")
	w.header.Set("X-TC-Action", action)
	w.header.Set("X-TC-Version", "2018-03-01")
	w.header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	if len(headers) == 0 {
		headers = []string{"content-type", "host"}
	}
	var canonical strings.Builder
	for _, h := range headers {
		v := w.header.Get(h)
		if h == "host" {
			v = w.host
		}
		canonical.WriteString(h + ":" + v + "\n")
	}
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	req := strings.Join([]string{http.MethodPost, "/", "", canonical.String(), strings.Join(headers, ";"), sha256hex(body)}, "\n")
	scope := date + "/iai/tc3_request"
	toSign := strings.Join([]string{"TC3-HMAC-SHA256", strconv.FormatInt(ts, 10), scope, sha256hex([]byte(req))}, "\n")
	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, "iai")
	k = hmacSHA256(k, "tc3_request")
	w.header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+secretID+"/"+scope+", SignedHeaders="+strings.Join(headers, ";")+
		", Signature="+hex.EncodeToString(hmacSHA256(k, toSign)))
	return w
}

// faces returns the person's faces through the native API, -1 if the person does not exist.
// (Through the SDK, a GetPersonBaseInfo right after a call with the same body would carry that
// call's signature: the SDK signs the body, not the action, in whole seconds.)
func faces(t testing.TB, env *testenv.Env, id string) int {
	t.Helper()
	status, p := native(t, env, http.MethodGet, "/v1/persons/"+id, "")
	if status == http.StatusNotFound {
		return -1
	}
	require.Equal(t, http.StatusOK, status, p)
	return len(p["face_ids"].([]any))
}

func personExists(t testing.TB, env *testenv.Env, id string) bool { return faces(t, env, id) >= 0 }

func deletePerson(t testing.TB, c *iai.Client, id string) {
	t.Helper()
	req := iai.NewDeletePersonRequest()
	req.PersonId = str(id)
	_, err := c.DeletePerson(req)
	require.NoError(t, err)
}

// deleteGroupGone deletes a group and waits until it is gone, so that its ID is free again.
func deleteGroupGone(t testing.TB, c *iai.Client, id string) {
	t.Helper()
	req := iai.NewDeleteGroupRequest()
	req.GroupId = str(id)
	_, err := c.DeleteGroup(req)
	require.NoError(t, err)
	eventually(t, 30*time.Second, func() bool {
		info := iai.NewGetGroupInfoRequest()
		info.GroupId = str(id)
		_, err := c.GetGroupInfo(info)
		return errCode(err) == "InvalidParameterValue.GroupIdNotExist"
	}, "the group's deletion ends")
}

// TestCapturedSignatureCannotBeReaimed: the SDK signs content-type;host and the body, not the
// action, the version or a POST's query. A captured signature is accepted again only for the
// very request it was first accepted for.
func TestCapturedSignatureCannotBeReaimed(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "g")
	createPerson(t, c, "p-2", "g", 2)
	spy, rec := recording(t, env)
	req := iai.NewGetPersonBaseInfoRequest()
	req.PersonId = str("p-2")
	_, err := spy.GetPersonBaseInfo(req)
	require.NoError(t, err)
	captured := rec.last(t)

	for _, tt := range []struct {
		name   string
		change func(*http.Request)
		code   string
	}{
		{"another action", func(r *http.Request) { r.Header.Set("X-TC-Action", "DeletePerson") }, "AuthFailure.SignatureFailure"},
		{"the action in the unsigned query of a POST", func(r *http.Request) {
			r.Header.Del("X-TC-Action")
			r.URL.RawQuery = "Action=DeletePerson"
		}, "AuthFailure.SignatureFailure"},
		{"another host", func(r *http.Request) { r.Host = "localhost:" + r.URL.Port() }, "AuthFailure.SignatureFailure"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ans := resend(t, env.HTTP.URL, captured, tt.change)
			require.Equal(t, tt.code, ans.code(), ans)
			require.True(t, personExists(t, env, "p-2"), "a captured signature deleted the person")
		})
	}
	ans := resend(t, env.HTTP.URL, captured, func(r *http.Request) { r.Header.Set("X-TC-Action", "DeletePerson") })
	require.Contains(t, ans.message(), "already used", "the message says why")
}

// clock is a server clock a test moves forward.
type clock struct {
	mu     sync.Mutex
	off    time.Duration
	frozen time.Time // when set, the clock stands here (plus off)
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen.Add(c.off)
	}
	return time.Now().Add(c.off)
}

// freeze stops the clock where it is: from then on it moves only by advance.
func (c *clock) freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.off = time.Now().Add(c.off), 0
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// TestReadReaimWindow: the SDK gives two calls made in one second with the same body the same
// signature, so a read carrying a signature just used for another call with that body is still
// answered; a moment later it is not, and a write never is.
func TestReadReaimWindow(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "g")
	createPerson(t, c, "p-1", "g", 1)
	var clk clock
	clk.freeze() // the 2 s windows are the server clock's, not a loaded machine's
	mux := http.NewServeMux()
	tencent.New(env.Svc.App, testenv.Logger(), tencent.Config{SecretID: secretID, SecretKey: secretKey, Now: clk.now}).Register(mux)
	srv := httptest.NewServer(httpx.Middleware(testenv.Logger(), func(http.ResponseWriter, *http.Request) {})(mux))
	t.Cleanup(srv.Close)

	w := signed(t, srv.URL, "GetPersonBaseInfo", []byte(`{"PersonId":"p-1"}`), time.Now().Unix())
	require.Equal(t, "李雷", resend(t, srv.URL, w, nil)["PersonName"])
	as := func(action, version string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-TC-Action", action); r.Header.Set("X-TC-Version", version) }
	}
	ans := resend(t, srv.URL, w, as("GetPersonGroupInfo", "2018-03-01"))
	require.Empty(t, ans.code(), "a read with the same body in the same second: %v", ans)
	require.EqualValues(t, 1, ans["GroupNum"])
	ans = resend(t, srv.URL, w, as("GetPersonBaseInfo", "2020-03-03"))
	require.Empty(t, ans.code(), ans)
	ans = resend(t, srv.URL, w, as("DeletePerson", "2018-03-01"))
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), "never a write: %v", ans)

	clk.advance(3 * time.Second)
	ans = resend(t, srv.URL, w, nil)
	require.Empty(t, ans.code(), "an exact repeat, later: %v", ans)
	ans = resend(t, srv.URL, w, as("GetPersonBaseInfo", "2020-03-03"))
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), "another version, later: %v", ans)
	ans = resend(t, srv.URL, w, as("GetPersonGroupInfo", "2018-03-01"))
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), "another read, later: %v", ans)
	require.True(t, personExists(t, env, "p-1"))
}

// TestReplayedDeleteCannotDeleteARecreatedPerson: a write's exact repeat runs again only within
// readGrace of its first use (the SDK sending one call twice in a second); a captured
// DeletePerson replayed later cannot delete the person created again since.
func TestReplayedDeleteCannotDeleteARecreatedPerson(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "g")
	createPerson(t, c, "p-9", "g", 1)
	var clk clock
	clk.freeze()
	mux := http.NewServeMux()
	tencent.New(env.Svc.App, testenv.Logger(), tencent.Config{SecretID: secretID, SecretKey: secretKey, Now: clk.now}).Register(mux)
	srv := httptest.NewServer(httpx.Middleware(testenv.Logger(), func(http.ResponseWriter, *http.Request) {})(mux))
	t.Cleanup(srv.Close)

	w := signed(t, srv.URL, "DeletePerson", []byte(`{"PersonId":"p-9"}`), clk.now().Unix())
	require.Empty(t, resend(t, srv.URL, w, nil).code())
	require.False(t, personExists(t, env, "p-9"))
	ans := resend(t, srv.URL, w, nil)
	require.Equal(t, "InvalidParameterValue.PersonIdNotExist", ans.code(), "the same call again in its second: today's answer: %v", ans)

	createPerson(t, c, "p-9", "g", 2) // the client registers the person again
	clk.advance(3 * time.Second)      // past the 2 s a write may be repeated in
	ans = resend(t, srv.URL, w, nil)
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
	require.True(t, personExists(t, env, "p-9"), "a replayed delete deleted the person created since")
}

// TestReadThenWriteOverOneConnection: the SDK signs whole seconds without a nonce, so a client
// that reads a group and deletes it within one second sends one signature for both calls. Over
// the client's own kept-alive connection the second call runs; the same signature re-aimed from
// any other connection is refused.
func TestReadThenWriteOverOneConnection(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "g-1")
	createGroup(t, c, "g-2")
	as := func(action string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-TC-Action", action) }
	}
	ts := time.Now().Unix()

	// An attacker who saw a read cannot turn it into a delete from their own connection.
	w := signed(t, env.HTTP.URL, "GetGroupInfo", []byte(`{"GroupId":"g-1"}`), ts)
	require.Empty(t, resend(t, env.HTTP.URL, w, nil).code())
	ans := resend(t, env.HTTP.URL, w, as("DeleteGroup"))
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
	require.Empty(t, resend(t, env.HTTP.URL, signed(t, env.HTTP.URL, "GetGroupInfo", []byte(`{"GroupId":"g-1"}`), ts+1), nil).code(),
		"g-1 was not deleted")

	// The client itself, over its one connection, reads then deletes in the same second.
	own := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	t.Cleanup(own.CloseIdleConnections)
	w = signed(t, env.HTTP.URL, "GetGroupInfo", []byte(`{"GroupId":"g-2"}`), ts)
	require.Empty(t, resendOn(t, own, env.HTTP.URL, w, nil).code())
	ans = resendOn(t, own, env.HTTP.URL, w, as("DeleteGroup"))
	require.Empty(t, ans.code(), "the client's own read-then-delete: %v", ans)
}

// TestSignedActionHeader: a client that signs x-tc-action (and the version and timestamp) has
// their values checked by the signature itself.
func TestSignedActionHeader(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	createGroup(t, client(t, env), "g")
	body := []byte(`{"GroupId":"g"}`)
	headers := []string{"content-type", "host", "x-tc-action", "x-tc-timestamp", "x-tc-version"}
	w := signed(t, env.HTTP.URL, "GetGroupInfo", body, time.Now().Unix(), headers...)
	ans := resend(t, env.HTTP.URL, w, nil)
	require.Empty(t, ans.code(), ans)
	require.Equal(t, "g", ans["GroupId"])

	w = signed(t, env.HTTP.URL, "GetGroupInfo", body, time.Now().Unix(), headers...)
	ans = resend(t, env.HTTP.URL, w, func(r *http.Request) { r.Header.Set("X-TC-Action", "DeleteGroup") })
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
	w = signed(t, env.HTTP.URL, "GetGroupInfo", body, time.Now().Unix(), headers...)
	ans = resend(t, env.HTTP.URL, w, func(r *http.Request) { r.Header.Set("X-TC-Version", "2020-03-03") })
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
	ans = resend(t, env.HTTP.URL, signed(t, env.HTTP.URL, "GetGroupInfo", body, time.Now().Unix(), headers...), nil)
	require.Empty(t, ans.code(), "the group was not deleted: %v", ans)
}

// TestUnsignedPayload: a body sent with X-TC-Content-SHA256: UNSIGNED-PAYLOAD is not covered by
// the signature, so it is refused unless the operator turns it on; turned on, a captured request
// still cannot carry another body or action.
func TestUnsignedPayload(t *testing.T) {
	unsigned := func(cpf *profile.ClientProfile) { cpf.UnsignedPayload = true }
	t.Run("refused by default", func(t *testing.T) {
		t.Parallel()
		env := testenv.Start(t, tencentConfig(t, "sqlite"))
		c, _ := recording(t, env, unsigned)
		err := groupList(c)
		requireCode(t, err, "AuthFailure.SignatureFailure")
		require.Contains(t, err.Error(), "ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD")
	})
	t.Run("turned on", func(t *testing.T) {
		t.Parallel()
		cfg := tencentConfig(t, "sqlite")
		cfg.TencentAllowUnsignedPayload = true
		env := testenv.Start(t, cfg)
		createGroup(t, client(t, env), "g")
		c, rec := recording(t, env, unsigned)
		require.NoError(t, groupList(c))
		captured := rec.last(t)
		planted, err := json.Marshal(createPersonReq("planted", "g", photo(t, 9)))
		require.NoError(t, err)
		ans := resend(t, env.HTTP.URL, captured, func(r *http.Request) {
			r.Header.Set("X-TC-Action", "CreatePerson")
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(planted)), int64(len(planted))
		})
		require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
		ans = resend(t, env.HTTP.URL, captured, func(r *http.Request) {
			body := []byte(`{"Limit":1}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		})
		require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), "another body under the same signature: %v", ans)
		require.False(t, personExists(t, env, "planted"))
	})
}

// TestReplayCannotUndoDeletion: a create captured before a deletion and sent again after it,
// within its five minutes, is refused; so is one signed before the deletion and first sent after.
func TestReplayCannotUndoDeletion(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "keep")
	type setup struct {
		capture func(t *testing.T, spy *iai.Client) // the call captured, before the deletion
		remove  func(t *testing.T)                  // the deletion
		gone    func(t *testing.T) bool             // what the replay must not bring back
	}
	for _, tt := range []struct {
		name, id string
		make     func(t *testing.T, id string) setup
	}{
		{"CreatePerson after DeletePerson", "r-1", func(t *testing.T, id string) setup {
			return setup{
				capture: func(t *testing.T, spy *iai.Client) {
					_, err := spy.CreatePerson(createPersonReq(id, "keep", photo(t, 1)))
					require.NoError(t, err)
				},
				remove: func(t *testing.T) { deletePerson(t, c, id) },
				gone:   func(t *testing.T) bool { return !personExists(t, env, id) },
			}
		}},
		{"CreateGroup after DeleteGroup", "r-2", func(t *testing.T, id string) setup {
			return setup{
				capture: func(t *testing.T, spy *iai.Client) { createGroup(t, spy, id) },
				remove:  func(t *testing.T) { deleteGroupGone(t, c, id) },
				gone: func(t *testing.T) bool {
					info := iai.NewGetGroupInfoRequest()
					info.GroupId = str(id)
					_, err := c.GetGroupInfo(info)
					return errCode(err) == "InvalidParameterValue.GroupIdNotExist"
				},
			}
		}},
		{"CreateFace after the person was deleted and registered again", "r-3", func(t *testing.T, id string) setup {
			createPerson(t, c, id, "keep", 3)
			return setup{
				capture: func(t *testing.T, spy *iai.Client) {
					req := iai.NewCreateFaceRequest()
					req.PersonId, req.Images = str(id), strs(photo(t, 4))
					_, err := spy.CreateFace(req)
					require.NoError(t, err)
				},
				remove: func(t *testing.T) {
					deletePerson(t, c, id)
					createPerson(t, c, id, "keep", 5)
				},
				gone: func(t *testing.T) bool { return faces(t, env, id) == 1 },
			}
		}},
	} {
		t.Run(tt.name+", replayed", func(t *testing.T) {
			s := tt.make(t, tt.id)
			spy, rec := recording(t, env)
			s.capture(t, spy)
			captured := rec.last(t)
			s.remove(t)
			ans := resend(t, env.HTTP.URL, captured, nil)
			require.Equal(t, "AuthFailure.SignatureExpire", ans.code(), ans)
			require.Contains(t, ans.message(), "sign")
			require.True(t, s.gone(t), "the replay undid the deletion")
		})
	}

	// Signed before the deletion, never sent until after it: refused by its signing time.
	for _, tt := range []struct {
		name, action, body string
		remove             func(t *testing.T)
	}{
		{"CreatePerson", "CreatePerson", `{"GroupId":"keep","PersonId":"late-p","PersonName":"P","Image":"` + photo(t, 6) + `"}`,
			func(t *testing.T) { createPerson(t, c, "late-p", "keep", 7); deletePerson(t, c, "late-p") }},
		{"CreateGroup", "CreateGroup", `{"GroupId":"late-g","GroupName":"G"}`,
			func(t *testing.T) { createGroup(t, c, "late-g"); deleteGroupGone(t, c, "late-g") }},
		{"CreatePerson into a deleted group", "CreatePerson", `{"GroupId":"late-h","PersonId":"late-q","PersonName":"P","Image":"` + photo(t, 8) + `"}`,
			func(t *testing.T) {
				createGroup(t, c, "late-h")
				deleteGroupGone(t, c, "late-h")
				// Another name: the same CreateGroup again within the second would be the
				// first one's signature, and refused as a replay of it.
				again := iai.NewCreateGroupRequest()
				again.GroupId, again.GroupName = str("late-h"), str("again")
				_, err := c.CreateGroup(again)
				require.NoError(t, err)
			}},
	} {
		t.Run(tt.name+", signed before the deletion", func(t *testing.T) {
			w := signed(t, env.HTTP.URL, tt.action, []byte(tt.body), time.Now().Add(-2*time.Second).Unix())
			tt.remove(t)
			ans := resend(t, env.HTTP.URL, w, nil)
			require.Equal(t, "AuthFailure.SignatureExpire", ans.code(), ans)
		})
	}
}

// TestExactRepeat: the SDK signs whole seconds with no nonce, so the same call made twice within
// a second carries the same signature; the repeat gets the answer it gets without a ledger.
func TestExactRepeat(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "g")
	createPerson(t, c, "p-1", "g", 1)
	spy, rec := recording(t, env)
	base := iai.NewGetPersonBaseInfoRequest()
	base.PersonId = str("p-1")
	_, err := spy.GetPersonBaseInfo(base)
	require.NoError(t, err)
	_, err = spy.CreatePerson(createPersonReq("p-1", "g", photo(t, 2)))
	requireCode(t, err, "InvalidParameterValue.PersonIdAlreadyExist")
	creates := rec.last(t)
	reads := rec.sent[0]
	for range 3 {
		ans := resend(t, env.HTTP.URL, reads, nil)
		require.Empty(t, ans.code(), ans)
		require.Equal(t, "李雷", ans["PersonName"])
		ans = resend(t, env.HTTP.URL, creates, nil)
		require.Equal(t, "InvalidParameterValue.PersonIdAlreadyExist", ans.code(), ans)
	}
}

// TestSignatureLedgerAcrossReplicas: two replicas share one log and one database; a signature
// accepted by one cannot be re-aimed through the other.
func TestSignatureLedgerAcrossReplicas(t *testing.T) {
	cfg := tencentConfig(t, "postgres")
	cfg.NATSListen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	cfg.MasterKey = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=" // both replicas unwrap the same keys
	first := testenv.Start(t, cfg)
	cfg2 := cfg
	cfg2.DataDir, cfg2.NATSListen, cfg2.NATSURL = t.TempDir(), "", "nats://"+cfg.NATSListen
	second := testenv.Start(t, cfg2)

	c := client(t, first)
	createGroup(t, c, "g")
	createPerson(t, c, "p-2", "g", 2)
	spy, rec := recording(t, first)
	req := iai.NewGetPersonBaseInfoRequest()
	req.PersonId = str("p-2")
	_, err := spy.GetPersonBaseInfo(req)
	require.NoError(t, err)
	captured := rec.last(t)

	ans := resend(t, second.HTTP.URL, captured, nil)
	require.Empty(t, ans.code(), "an exact repeat through the other replica: %v", ans)
	ans = resend(t, second.HTTP.URL, captured, func(r *http.Request) { r.Header.Set("X-TC-Action", "DeletePerson") })
	require.Equal(t, "AuthFailure.SignatureFailure", ans.code(), ans)
	require.True(t, personExists(t, second, "p-2"))
}

// readSpy is a request body that records whether anything read it.
type readSpy struct {
	mu   sync.Mutex
	read bool
}

func (s *readSpy) Read(p []byte) (int, error) {
	s.mu.Lock()
	s.read = true
	s.mu.Unlock()
	return 0, io.EOF
}

func (s *readSpy) wasRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read
}

// TestRefusedBeforeTheBody: what the headers alone show wrong is refused before a byte of the
// body is read, so an unauthenticated client cannot make the server buffer 24 MiB.
func TestRefusedBeforeTheBody(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	mux := http.NewServeMux()
	tencent.New(env.Svc.App, testenv.Logger(), tencent.Config{SecretID: secretID, SecretKey: secretKey}).Register(mux)
	now := time.Now().Unix()
	for _, tt := range []struct {
		name   string
		change func(http.Header)
		code   string
	}{
		{"no Authorization", func(h http.Header) { h.Del("Authorization") }, "AuthFailure.SignatureFailure"},
		{"unknown SecretId", func(h http.Header) {
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), secretID, "AKIDsomeoneElse", 1))
		}, "AuthFailure.SecretIdNotFound"},
		{"expired", func(h http.Header) { h.Set("X-TC-Timestamp", strconv.FormatInt(now-3600, 10)) }, "AuthFailure.SignatureExpire"},
		{"credential of another day", func(h http.Header) {
			h.Set("X-TC-Timestamp", strconv.FormatInt(now+0, 10))
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), time.Unix(now, 0).UTC().Format("2006-01-02"), "2001-02-03", 1))
		}, "AuthFailure.SignatureFailure"},
		{"unsigned payload", func(h http.Header) { h.Set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD") }, "AuthFailure.SignatureFailure"},
		{"host not signed", func(h http.Header) {
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), "SignedHeaders=content-type;host", "SignedHeaders=content-type", 1))
		}, "AuthFailure.SignatureFailure"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := signed(t, "http://erasure.test", "CreateGroup", []byte(`{"GroupId":"g","GroupName":"G"}`), now)
			spy := &readSpy{}
			r := httptest.NewRequest(http.MethodPost, "http://erasure.test/", spy)
			r.Header = w.header.Clone()
			r.ContentLength = 24 << 20
			tt.change(r.Header)
			rr := httptest.NewRecorder()
			mux.ServeHTTP(rr, r)
			require.Equal(t, http.StatusOK, rr.Code)
			var out struct{ Response answer }
			require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &out), rr.Body.String())
			require.Equal(t, tt.code, out.Response.code(), out.Response)
			require.False(t, spy.wasRead(), "the body was read before the request was refused")
		})
	}
}

// failingLedger is a signature ledger that cannot be reached.
type failingLedger struct{}

func (failingLedger) Remember(context.Context, []byte, tencent.SignatureUse) (tencent.SignatureUse, bool, error) {
	return tencent.SignatureUse{}, false, errors.New("nats: no responders available for request")
}

// TestLedgerUnreachable: without the ledger no signature can be checked for reuse, so nothing
// runs (fail closed), and the answer is Tencent's, not a 500.
func TestLedgerUnreachable(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	mux := http.NewServeMux()
	tencent.New(env.Svc.App, testenv.Logger(), tencent.Config{SecretID: secretID, SecretKey: secretKey, Ledger: failingLedger{}}).Register(mux)
	srv := httptest.NewServer(httpx.Middleware(testenv.Logger(), func(http.ResponseWriter, *http.Request) {})(mux))
	t.Cleanup(srv.Close)
	req := iai.NewCreateGroupRequest()
	req.GroupId, req.GroupName = str("never"), str("n")
	_, err := sdk(t, strings.TrimPrefix(srv.URL, "http://"), secretID, secretKey, "POST").CreateGroup(req)
	requireCode(t, err, "InternalError")
	info := iai.NewGetGroupInfoRequest()
	info.GroupId = str("never")
	_, err = client(t, env).GetGroupInfo(info)
	requireCode(t, err, "InvalidParameterValue.GroupIdNotExist")
}
