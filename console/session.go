package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
)

// cookieName is the session cookie; its Path is the console's, so no other route sees it.
const cookieName = "erasure_console"

// maxSessions bounds the sessions held in memory: without keys every browser that opens a page
// gets one, and a client that never keeps its cookie must not grow the map without end.
const maxSessions = 10_000

// openActor is the actor of what the console records when no API keys are configured.
const openActor = "console"

// session is one browser's login: the key's name (the actor), its scope, and the token its
// state-changing forms carry.
type session struct {
	id       string
	actor    string
	readOnly bool
	csrf     string
	expires  time.Time
	// upload is the deletion a preview showed and its confirmation may record (newdeletion.go).
	upload *upload
	// once are the one-time tokens of forms that must not be acted on twice (issueOnce).
	once []string
}

// maxOnce bounds a session's outstanding one-time form tokens: the forms of its last few pages.
const maxOnce = 16

// sessions are held in this replica's memory: a restart ends them (the operator logs in again).
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	ttl  time.Duration
	now  func() time.Time
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{byID: map[string]*session{}, ttl: ttl, now: time.Now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start opens a session for actor.
func (s *sessions) start(actor string, readOnly bool) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.byID) >= maxSessions {
		var oldest *session
		for id, ss := range s.byID {
			if now.After(ss.expires) {
				delete(s.byID, id)
			} else if oldest == nil || ss.expires.Before(oldest.expires) {
				oldest = ss
			}
		}
		if len(s.byID) >= maxSessions && oldest != nil {
			delete(s.byID, oldest.id)
		}
	}
	ss := &session{id: randomToken(), actor: actor, readOnly: readOnly, csrf: randomToken(), expires: now.Add(s.ttl)}
	s.byID[ss.id] = ss
	return ss
}

// get returns the live session of id; an expired one is ended.
func (s *sessions) get(id string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	if s.now().After(ss.expires) {
		delete(s.byID, id)
		return nil, false
	}
	return ss, true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// setUpload keeps u as the session's upload awaiting confirmation, replacing any other.
func (s *sessions) setUpload(ss *session, u *upload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.upload = u
}

// takeUpload returns and forgets the session's upload if its token is token.
func (s *sessions) takeUpload(ss *session, token string) (*upload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := ss.upload
	if u == nil || subtle.ConstantTimeCompare([]byte(u.token), []byte(token)) != 1 {
		return nil, false
	}
	ss.upload = nil
	return u, true
}

// issueOnce returns a fresh one-time token for a form whose action must not run twice for one
// intent (a double click, a reload that posts the form again): subscribing a webhook twice
// delivers every event twice, rotating twice drops the old secret before the receiver has the
// new one. Only the newest maxOnce tokens of a session stay valid.
func (s *sessions) issueOnce(ss *session) string {
	if ss == nil {
		return ""
	}
	tok := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.once = append(ss.once, tok)
	if len(ss.once) > maxOnce {
		ss.once = ss.once[len(ss.once)-maxOnce:]
	}
	return tok
}

// takeOnce spends token, reporting whether it was one of the session's outstanding ones.
func (s *sessions) takeOnce(ss *session, token string) bool {
	if ss == nil || token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range ss.once {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			ss.once = append(ss.once[:i], ss.once[i+1:]...)
			return true
		}
	}
	return false
}

type sessionKey struct{}

func sessionOf(r *http.Request) *session {
	ss, _ := r.Context().Value(sessionKey{}).(*session)
	return ss
}

// setCookie sends the session's cookie: never readable by scripts, never sent by another site's
// request, over TLS only when the console is served over TLS.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, ss *session) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: ss.id, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.sessions.ttl.Seconds())})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// authenticate serves next with the request's session. With keys configured a request without
// a live session is sent to the login form (a page) or refused (a fragment, a form post);
// without keys every browser gets a session of its own on its first request, so that its forms
// carry a token all the same.
func (c *Console) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ss *session
		if ck, err := r.Cookie(cookieName); err == nil {
			ss, _ = c.sessions.get(ck.Value)
		}
		if ss == nil && c.keys == nil {
			ss = c.sessions.start(openActor, false)
			c.setCookie(w, r, ss)
		}
		if ss == nil {
			if r.Header.Get("HX-Request") != "" {
				// htmx polling a fragment of a page whose session ended: it loads the login form
				// in place of the page (HX-Redirect), instead of failing every second.
				next := Prefix
				if u, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil {
					next = safeNext(u.RequestURI())
				}
				w.Header().Set("HX-Redirect", Prefix+"login?next="+url.QueryEscape(next))
			} else if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, "Your session has ended. Log in again.")
			return
		}
		if c.keys != nil {
			httpx.SetClient(r, ss.actor)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, ss)))
	})
}

// changes guards a form that changes state: the session's key may change things, and the form
// is the console's own (formToken).
func (c *Console) changes(next http.HandlerFunc) http.HandlerFunc {
	return c.formToken(func(w http.ResponseWriter, r *http.Request) {
		if sessionOf(r).readOnly {
			c.fail(w, r, http.StatusForbidden, "This key is read-only: it may look at everything and change nothing.")
			return
		}
		next(w, r)
	})
}

// formToken refuses a form post without the session's token (compared in constant time). The
// shared guard already refused a post from another site; the token also refuses one that is
// not the console's own form, and one from an ended session. A read-only session may post
// this way too (to log out: ending its own session changes nothing).
func (c *Console) formToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss := sessionOf(r)
		limit := int64(maxForm)
		if isMultipart(r) {
			limit += c.cfg.MaxUpload
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		if isMultipart(r) {
			err = r.ParseMultipartForm(8 << 20) // more than this waits in a temporary file
			// net/http removes the temporary files of the request it made, not of this copy
			// (authenticate's WithContext): without this, a large upload's list of person IDs
			// would stay in $TMPDIR.
			if r.MultipartForm != nil {
				defer func() { _ = r.MultipartForm.RemoveAll() }()
			}
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			c.fail(w, r, http.StatusBadRequest, "The form could not be read (over "+byteSize(limit)+"?): "+err.Error())
			return
		}
		token := r.PostFormValue("csrf")
		if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(ss.csrf)) != 1 {
			c.fail(w, r, http.StatusForbidden, "The form was not the console's own, or is from an earlier session: reload the page and try again.")
			return
		}
		next(w, r)
	}
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if c.keys == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", loginPage{Next: safeNext(r.URL.Query().Get("next"))})
}

// login takes a key and opens a session named after it.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.keys == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	name, readOnly, ok := c.keys.Lookup(strings.TrimSpace(r.PostFormValue("key")))
	if !ok {
		c.render(w, r, http.StatusUnauthorized, "login", loginPage{Next: next, Error: "That is not a key this server knows."})
		return
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.end(ck.Value) // a login never reuses a session id (fixation)
	}
	ss := c.sessions.start(name, readOnly)
	c.setCookie(w, r, ss)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session; the cookie goes with it.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.sessions.end(sessionOf(r).id)
	clearCookie(w, r)
	target := Prefix + "login"
	if c.keys == nil {
		target = Prefix
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext keeps a post-login destination inside the console: never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, Prefix+"login") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}
