package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
)

// pageNames are the pages; each is parsed with the layout and the shared partials, since each
// defines its own "content".
var pageNames = []string{"deletions", "deletion", "cancel", "new", "login", "error", "audit", "receipts", "targets", "webhooks"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"whenPtr": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"path":      url.PathEscape,
	"hasPrefix": strings.HasPrefix,
	// itemsLink is the Deletion page's items table filtered to a failure group.
	"itemsLink": func(id, code, target string) string {
		q := url.Values{"state": {"failed"}}
		if code != "" {
			q.Set("code", code)
		}
		if target != "" {
			q.Set("target", target)
		}
		return Prefix + "deletions/" + url.PathEscape(id) + "?" + q.Encode() + "#items"
	},
}

// pages are parsed once, at start: they are embedded, so one that does not parse fails every
// test of the package rather than a request.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html"))
	}
	return out
}()

func requestID(r *http.Request) string { return httpx.RequestID(r) }

func byteSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
