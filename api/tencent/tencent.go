// Package tencent is the Tencent Cloud IAI compatibility surface (API 3.0, versions 2018-03-01
// and 2020-03-03): an existing client of Tencent's face-recognition service, the official SDK
// included, points its endpoint at erasure and changes nothing else.
//
// Protocol: POST / with X-TC-Action, X-TC-Version, X-TC-Timestamp and a TC3-HMAC-SHA256
// Authorization header over a JSON body, or the SDK's GET form with the parameters flattened
// into the query (Name.0, Name.Field). Signatures are verified against the one configured
// credential; the Host header is part of what is signed, exactly as received. Every answer is
// HTTP 200 with {"Response":{...,"RequestId"}} or {"Response":{"Error":{"Code","Message"},
// "RequestId"}}, the codes mapped in one table (errors.go). Each action has its own token bucket
// (RequestLimitExceeded over it), and names follow Tencent's rules on this surface only.
//
// Like every front door it parses, calls app, and maps. A call answers once its effect is
// visible, so the next read sees it; DeleteGroup answers as soon as the group is deleting, and
// DeletePerson and DeletePersonFromGroup once the person's deletion is terminal.
package tencent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
)

// Versions are the API versions the surface answers; the actions are the same in both.
var Versions = []string{"2018-03-01", "2020-03-03"}

// Defaults of Config.
const (
	DefaultRate  = 50 // requests per second per action: Tencent's default limit
	DefaultBurst = 50
	DefaultWait  = 30 * time.Second
	// maxBody holds CreateFace's four images of 5 MB base64 each, and the rest. An image over
	// 5 MB is still read, so that it is answered FailedOperation.ImageSizeExceed.
	maxBody = 24 << 20
	// ledgerTimeout bounds a signature ledger call: past it the request is refused, not run.
	ledgerTimeout = 5 * time.Second
	// readGrace is how long after a signature's first use a read with the same body may still
	// carry it: calls the SDK signs in one second reach the server within about a second of
	// each other, plus their network latency.
	readGrace = 2 * time.Second
)

// Config configures the surface.
type Config struct {
	SecretID, SecretKey string  // the credential; without it every call is AuthFailure.SecretIdNotFound
	Rate                float64 // requests per second per action, default DefaultRate
	Burst               int     // default DefaultBurst
	// Wait bounds how long DeletePerson and DeletePersonFromGroup wait for the deletion to be
	// terminal; still running then, they answer FailedOperation.RequestTimeout (the deletion runs
	// on). Default DefaultWait.
	Wait time.Duration
	Now  func() time.Time // the clock signatures are checked against, default time.Now
	// Ledger remembers accepted signatures, so that a captured one serves no other request.
	// Replicas must share it; default an in-process ledger, enough for a single process.
	Ledger SignatureLedger
	// AllowUnsignedPayload accepts X-TC-Content-SHA256: UNSIGNED-PAYLOAD
	// (ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD); refused by default, since such a body is not signed.
	AllowUnsignedPayload bool
}

func (c *Config) setDefaults() {
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.Wait <= 0 {
		c.Wait = DefaultWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// action handles one Tencent action: it decodes its parameters with decode and returns the
// answer's fields (without RequestId).
type action func(ctx context.Context, c app.Caller, decode func(any) error) (any, error)

// API serves the Tencent surface.
type API struct {
	app      *app.App
	logger   *slog.Logger
	cfg      Config
	verifier verifier
	ledger   SignatureLedger
	actions  map[string]action

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// New returns the Tencent surface over a.
func New(a *app.App, logger *slog.Logger, cfg Config) *API {
	if logger == nil {
		logger = slog.Default()
	}
	cfg.setDefaults()
	api := &API{app: a, logger: logger, cfg: cfg, limiters: map[string]*rate.Limiter{}, ledger: cfg.Ledger,
		verifier: verifier{secretID: cfg.SecretID, secretKey: cfg.SecretKey, now: cfg.Now, allowUnsigned: cfg.AllowUnsignedPayload}}
	if api.ledger == nil {
		api.ledger = newMemoryLedger(cfg.Now)
	}
	api.actions = map[string]action{
		"CreateGroup":           api.createGroup,
		"DeleteGroup":           api.deleteGroup,
		"GetGroupInfo":          api.getGroupInfo,
		"GetGroupList":          api.getGroupList,
		"CreatePerson":          api.createPerson,
		"DeletePerson":          api.deletePerson,
		"DeletePersonFromGroup": api.deletePersonFromGroup,
		"GetPersonBaseInfo":     api.getPersonBaseInfo,
		"GetPersonGroupInfo":    api.getPersonGroupInfo,
		"GetPersonList":         api.getPersonList,
		"CreateFace":            api.createFace,
		"DeleteFace":            api.deleteFace,
		"CopyPerson":            api.copyPerson,
	}
	return api
}

// Register adds the surface's routes to mux: the root path only, so the other surfaces' routes
// (/v1/..., /sophon/...) stay theirs.
func (api *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /{$}", api.serve)
	mux.HandleFunc("GET /{$}", api.serve)
}

func (api *API) serve(w http.ResponseWriter, r *http.Request) {
	requestID := httpx.RequestID(r)
	if requestID == "" {
		requestID = app.NewID()
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity
				panic(p)
			}
			api.logger.Error("panic serving Tencent request", "request_id", requestID, "panic", p, "stack", string(debug.Stack()))
			writeError(w, requestID, "InternalError", "internal error")
		}
	}()
	ans, err := api.handle(r, requestID)
	if err != nil {
		code, msg, known := codeOf(err)
		if !known {
			api.logger.Error("Tencent request failed", "request_id", requestID, "action", r.Header.Get("X-TC-Action"), "err", err)
		}
		writeError(w, requestID, code, msg)
		return
	}
	writeAnswer(w, requestID, ans)
}

func (api *API) handle(r *http.Request, requestID string) (any, error) {
	a, signedAt, err := api.verifier.authenticate(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: limit is %d bytes", httpx.ErrBodyTooLarge, maxBody)
		}
		if errors.Is(err, httpx.ErrSlowBody) { // the guard cut a trickling client off
			return nil, err
		}
		return nil, fmt.Errorf("%w: reading the body: %v", errInvalid, err)
	}
	if err := api.verifier.check(r, a, signedAt, body); err != nil {
		return nil, err
	}
	// A POST's query is not signed: its Action and Version would be anyone's to set. A GET's
	// query is signed and its headers are not, so there the query decides, and a header that
	// says otherwise is refused.
	query := url.Values{}
	if r.Method == http.MethodGet {
		query = r.URL.Query()
	}
	name, err := actionOf(r, query, "Action")
	if err != nil {
		return nil, err
	}
	version, err := actionOf(r, query, "Version")
	if err != nil {
		return nil, err
	}
	params := body
	if r.Method == http.MethodGet {
		params = []byte(r.URL.RawQuery)
	}
	use := SignatureUse{Action: name, Version: version, Method: r.Method, Host: r.Host, Path: r.URL.Path,
		Params: sha256hex(params), AcceptedAt: api.cfg.Now(), Conn: httpx.ConnID(r)}
	first, seen, err := api.remember(r.Context(), a.signature, use)
	if err != nil {
		return nil, err
	}
	act, ok := api.actions[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (X-TC-Action)", errInvalidAction, name)
	}
	if !knownVersion(version) {
		return nil, fmt.Errorf("%w: %q (X-TC-Version must be one of %v)", errNoSuchVersion, version, Versions)
	}
	if !api.limiter(name).Allow() {
		return nil, fmt.Errorf("%w: %s allows %g requests per second", errRateLimited, name, api.cfg.Rate)
	}
	decode := func(v any) error { return decodeBody(body, v) }
	if r.Method == http.MethodGet {
		decode = func(v any) error { return decodeQuery(query, v) }
	}
	if err := api.signedAfterDeletions(r.Context(), name, decode, signedAt, first, seen); err != nil {
		return nil, err
	}
	return act(r.Context(), app.Caller{RequestID: requestID, Actor: "tencent-api"}, decode)
}

// remember files the signature in the ledger before anything runs. The SDK signs neither the
// action nor the version, and with UNSIGNED-PAYLOAD not the body, so a signature seen before is
// accepted again only for the request it was first accepted for, with exceptions that keep the
// official SDK working, since it signs whole seconds with no nonce (two calls it makes within a
// second with the same body carry the same signature):
//   - an exact repeat of a read, and of a write within readGrace of the first use, runs as it
//     always did (a replayed create is refused separately if it would undo a deletion:
//     signedAfterDeletions);
//   - a read with the same body within readGrace (a client reading a person's groups right
//     after its base info, or a group right after deleting it);
//   - any other action with the same body within readGrace over the very connection the
//     signature first came over (a client reading a group, then deleting it: the SDK sends a
//     client's calls over its kept-alive connections, which a captured request cannot be sent
//     on).
//
// A captured signature can never be aimed at another write from another connection, nor at
// any write after readGrace.
func (api *API) remember(ctx context.Context, signature []byte, use SignatureUse) (SignatureUse, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	first, seen, err := api.ledger.Remember(ctx, signature, use)
	if err != nil {
		api.logger.Error("Tencent signature ledger unreachable; refusing the request", "err", err)
		return SignatureUse{}, false, fmt.Errorf("%w (%v)", errLedger, err)
	}
	soon := use.AcceptedAt.Sub(first.AcceptedAt) <= readGrace
	var allowed bool
	switch {
	case !seen:
		allowed = true
	case first.sameRequest(use):
		// A repeated read changes nothing; a repeated write only runs again while the SDK could
		// have signed it so (a client sending one call twice in a second, or retrying a call
		// whose answer it lost). Later, a replay of a delete would delete what was created since.
		allowed = reads[use.Action] || soon
	default:
		allowed = first.sameParams(use) && soon && (reads[use.Action] || use.Conn == first.Conn)
	}
	if !allowed {
		return SignatureUse{}, false, fmt.Errorf("%w (first accepted for %s at %s)", errSignatureReused, first.Action,
			first.AcceptedAt.UTC().Format(time.RFC3339))
	}
	return first, seen, nil
}

// actionOf returns the request's Action or Version (field): from the signed query of a GET, else
// from its X-TC- header.
func actionOf(r *http.Request, query url.Values, field string) (string, error) {
	header, q := r.Header.Get("X-TC-"+field), query.Get(field)
	switch {
	case q == "":
		return header, nil
	case header != "" && header != q:
		return "", fmt.Errorf("%w: X-TC-%s %q differs from the signed query's %s %q", errSignatureFailure, field, header, field, q)
	}
	return q, nil
}

// reads are the actions that change nothing.
var reads = map[string]bool{"GetGroupInfo": true, "GetGroupList": true, "GetPersonBaseInfo": true,
	"GetPersonGroupInfo": true, "GetPersonList": true}

func knownVersion(v string) bool {
	for _, known := range Versions {
		if v == known {
			return true
		}
	}
	return false
}

// limiter returns the action's token bucket; the map is bounded by the set of actions.
func (api *API) limiter(name string) *rate.Limiter {
	api.mu.Lock()
	defer api.mu.Unlock()
	l, ok := api.limiters[name]
	if !ok {
		l = rate.NewLimiter(rate.Limit(api.cfg.Rate), api.cfg.Burst)
		api.limiters[name] = l
	}
	return l
}

// Refuse answers a request the guard refused (httpx.Guard) as Tencent Cloud does: HTTP 200 with
// the error's code, so that the SDK reports the code rather than a transport failure.
func Refuse(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, _ := codeOf(err)
	writeError(w, httpx.RequestID(r), code, msg)
}

func writeAnswer(w http.ResponseWriter, requestID string, ans any) {
	fields := map[string]json.RawMessage{}
	if ans != nil {
		raw, err := json.Marshal(ans)
		if err == nil {
			err = json.Unmarshal(raw, &fields)
		}
		if err != nil {
			writeError(w, requestID, "InternalError", "internal error")
			return
		}
	}
	id, _ := json.Marshal(requestID)
	fields["RequestId"] = id
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"Response": fields})
}

type errorAnswer struct {
	Response struct {
		Error struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

func writeError(w http.ResponseWriter, requestID, code, msg string) {
	var a errorAnswer
	a.Response.Error.Code, a.Response.Error.Message, a.Response.RequestID = code, msg, requestID
	httpx.WriteJSON(w, http.StatusOK, a)
}
