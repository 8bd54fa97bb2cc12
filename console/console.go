// Package console is erasure's operator console at /ui/: server-rendered pages (html/template,
// embedded with the stylesheet and a vendored htmx) to list deletions, follow one, retry its
// failures, cancel it and request a new one. Every page is complete HTML without JavaScript;
// htmx only refreshes the progress bars. The console calls the application layer directly
// (app.go) and shows person IDs only, never a name.
package console

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/config"
)

// Prefix is where the console is served.
const Prefix = "/ui/"

// maxForm bounds a form without a file (login, retry, cancel, confirm).
const maxForm = 64 << 10

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the console.
type Config struct {
	// Keys are the API keys a login takes; nil: no login, the console is open as /v1 is.
	Keys *httpx.Keys
	// Session is how long a login lasts (config.DefaultConsoleSession when 0).
	Session time.Duration
	// Lag reports how far the read model is behind the log (events, seconds); nil: not shown.
	Lag func(ctx context.Context) (events uint64, seconds float64, err error)
	// Backlog reports the running deletions and their pending items; nil: not shown.
	Backlog func(ctx context.Context) (running, pending int, err error)
	// MaxUpload bounds an uploaded or pasted list of IDs (default 32 MiB).
	MaxUpload int64
	Logger    *slog.Logger
}

// Console serves the operator console.
type Console struct {
	backend  backend
	cfg      Config
	keys     *httpx.Keys
	sessions *sessions
	pages    map[string]*template.Template
	logger   *slog.Logger
	now      func() time.Time
	// verifying holds the one audit verification allowed at a time (audit.go).
	verifying chan struct{}
}

// newConsole returns the console over the application layer b (New, in app.go).
func newConsole(b backend, cfg Config) *Console {
	cfg.Session = cmp.Or(cfg.Session, config.DefaultConsoleSession)
	cfg.MaxUpload = cmp.Or(cfg.MaxUpload, 32<<20)
	return &Console{backend: b, cfg: cfg, keys: cfg.Keys, sessions: newSessions(cfg.Session),
		pages: pages, logger: cmp.Or(cfg.Logger, slog.Default()), now: time.Now, verifying: make(chan struct{}, 1)}
}

// Register adds the console's routes to mux, each behind the console's security headers and,
// but for the login form and the static files, its session.
func (c *Console) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	mux.Handle("GET "+Prefix+"static/", c.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))
	mux.Handle("GET "+Prefix+"login", c.headers(http.HandlerFunc(c.loginForm)))
	mux.Handle("POST "+Prefix+"login", c.headers(http.HandlerFunc(c.login)))
	page := func(h http.HandlerFunc) http.Handler { return c.headers(c.authenticate(h)) }
	mux.Handle("POST "+Prefix+"logout", page(c.formToken(c.logout)))
	mux.Handle("GET "+Prefix+"{$}", page(c.deletionsPage))
	mux.Handle("GET "+Prefix+"deletions/{id}", page(c.deletionPage))
	mux.Handle("GET "+Prefix+"deletions/{id}/progress", page(c.progressFragment))
	mux.Handle("GET "+Prefix+"deletions/{id}/cancel", page(c.cancelPage))
	mux.Handle("POST "+Prefix+"deletions/{id}/cancel", page(c.changes(c.cancel)))
	mux.Handle("POST "+Prefix+"deletions/{id}/retry", page(c.changes(c.retry)))
	mux.Handle("GET "+Prefix+"deletions/new", page(c.newDeletionPage))
	mux.Handle("POST "+Prefix+"deletions/preview", page(c.changes(c.preview)))
	mux.Handle("POST "+Prefix+"deletions", page(c.changes(c.confirm)))
	c.registerAudit(mux, page)    // audit.go
	c.registerReceipts(mux, page) // receipts.go
	c.registerTargets(mux, page)  // targets.go
	c.registerWebhooks(mux, page) // webhooks.go
	mux.Handle(Prefix, page(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "There is no such page in the console.")
	}))
}

// contentSecurityPolicy allows the console's own files and nothing else: no inline script or
// style (so an injected tag does nothing), no frame around it (clickjacking), forms posting only
// back to it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets what every console answer sends: the CSP, no MIME sniffing, no referrer to
// another site (a URL holds IDs), no framing, and no caching of pages (they hold IDs). Not
// "no-referrer": under it a browser sends "Origin: null" with the console's own form posts,
// which the shared guard refuses as cross-site.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Refuse answers a request the shared guard refused (httpx.Refuser), as a plain page.
func Refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusForbidden
	switch {
	case errors.Is(err, httpx.ErrUnauthenticated):
		status = http.StatusUnauthorized
	case errors.Is(err, httpx.ErrRateLimited), errors.Is(err, httpx.ErrTooManyLargeBodies):
		status = http.StatusTooManyRequests
	case errors.Is(err, httpx.ErrURLTooLong):
		status = http.StatusRequestURITooLong
	case errors.Is(err, httpx.ErrHeadersTooLarge):
		status = http.StatusRequestHeaderFieldsTooLarge
	}
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.Error(w, err.Error(), status)
}

// render writes page name with data inside the layout; the page is rendered whole before any
// byte is sent, so a template error answers 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := c.pages[name]
	if !ok {
		c.internal(w, r, errors.New("no page template "+name))
		return
	}
	view := layoutData{Page: data, Path: r.URL.Path}
	if ss := sessionOf(r); ss != nil {
		view.Actor, view.ReadOnly, view.CSRF, view.Keyed = ss.actor, ss.readOnly, ss.csrf, c.keys != nil
		view.Health = c.health(r.Context())
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", view); err != nil {
		c.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fragment writes template name of page without the layout (what htmx swaps in).
func (c *Console) fragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	t, ok := c.pages[page]
	if !ok {
		c.internal(w, r, errors.New("no page template "+page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		c.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// fail answers an error page saying what went wrong and what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	c.render(w, r, status, "error", errorPage{Status: status, Message: message})
}

// internal answers 500 and logs the cause (never shown: it may hold a query).
func (c *Console) internal(w http.ResponseWriter, r *http.Request, err error) {
	httpx.NoteError(w, err)
	c.logger.Error("console", "path", r.URL.Path, "err", err)
	if _, ok := c.pages["error"]; !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if c.pages["error"].ExecuteTemplate(&buf, "layout", layoutData{Page: errorPage{Status: 500, Message: "Something failed inside the server; the log says what."}}) != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = buf.WriteTo(w)
}

// health is the header's line: readiness, read-model lag and backlog, each bounded in time so a
// slow database slows no page by more than a second.
func (c *Console) health(ctx context.Context) health {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var h health
	if err := c.backend.ready(ctx); err != nil {
		h.NotReady = err.Error()
	}
	if c.cfg.Lag != nil {
		if n, secs, err := c.cfg.Lag(ctx); err == nil {
			h.HasLag, h.LagEvents, h.LagSeconds = true, n, secs
		}
	}
	if c.cfg.Backlog != nil {
		if running, pending, err := c.cfg.Backlog(ctx); err == nil {
			h.HasBacklog, h.Running, h.Pending = true, running, pending
		}
	}
	return h
}

type health struct {
	NotReady         string
	HasLag           bool
	LagEvents        uint64
	LagSeconds       float64
	HasBacklog       bool
	Running, Pending int
}

// layoutData is what every page's layout shows around the page itself.
type layoutData struct {
	Page     any
	Path     string
	Actor    string
	ReadOnly bool
	Keyed    bool // a login exists (and so a logout)
	CSRF     string
	Health   health
}

type errorPage struct {
	Status  int
	Message string
}

type loginPage struct {
	Next, Error string
}
