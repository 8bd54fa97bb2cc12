package console

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxInvalidShown bounds the invalid lines a preview lists (it counts them all).
const maxInvalidShown = 100

// upload is a list of IDs a preview showed, kept in the session until it is confirmed: the
// confirmation records exactly what the operator saw, without sending the list again.
type upload struct {
	token   string
	ids     []string
	groupID string
}

type invalidLine struct {
	Line   int
	Text   string
	Reason string
}

type newDeletionPage struct {
	Error string
	// The preview (after the operator sent a list).
	Preview      bool
	Token        string
	Count        int
	Duplicates   int
	Invalid      []invalidLine
	InvalidCount int
	GroupID      string
}

func (c *Console) newDeletionPage(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r).readOnly {
		c.fail(w, r, http.StatusForbidden, "This key is read-only: it may look at everything and change nothing.")
		return
	}
	c.render(w, r, http.StatusOK, "new", newDeletionPage{})
}

// preview reads the pasted or uploaded IDs, one a line, and shows how many will be deleted and
// which lines are not valid IDs (those are left out), before anything is recorded.
func (c *Console) preview(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r)
	var src io.Reader = strings.NewReader(r.PostFormValue("ids"))
	if r.MultipartForm != nil && len(r.MultipartForm.File["file"]) > 0 {
		fh := r.MultipartForm.File["file"][0]
		if fh.Size > 0 {
			f, err := fh.Open()
			if err != nil {
				c.internal(w, r, fmt.Errorf("open the uploaded file: %w", err))
				return
			}
			defer f.Close()
			src = io.MultiReader(f, strings.NewReader("\n"+r.PostFormValue("ids")))
		}
	}
	page := newDeletionPage{Preview: true, GroupID: strings.TrimSpace(r.PostFormValue("group_id"))}
	ids, err := readIDs(src, &page)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "The list could not be read: "+err.Error())
		return
	}
	if page.GroupID != "" {
		if err := validID(page.GroupID); err != nil {
			page.Preview, page.Error = false, "The group ID is not valid: "+err.Error()
			c.render(w, r, http.StatusBadRequest, "new", page)
			return
		}
	}
	if len(ids) == 0 {
		page.Preview = false
		page.Error = "The list holds no valid person ID: paste one ID a line, or choose a file of them."
		c.render(w, r, http.StatusBadRequest, "new", page)
		return
	}
	u := &upload{token: randomToken(), ids: ids, groupID: page.GroupID}
	c.sessions.setUpload(ss, u)
	page.Token, page.Count = u.token, len(ids)
	c.render(w, r, http.StatusOK, "new", page)
}

// readIDs reads one ID a line (blank lines and surrounding spaces ignored), keeping the valid
// ones once each, in order, and noting the others in page.
func readIDs(src io.Reader, page *newDeletionPage) ([]string, error) {
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	seen := map[string]bool{}
	var ids []string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" {
			continue
		}
		if err := validID(line); err != nil {
			page.InvalidCount++
			if len(page.Invalid) < maxInvalidShown {
				text := line
				if len(text) > 80 {
					text = text[:80] + "…"
				}
				page.Invalid = append(page.Invalid, invalidLine{Line: n, Text: text, Reason: err.Error()})
			}
			continue
		}
		if seen[line] {
			page.Duplicates++
			continue
		}
		seen[line] = true
		ids = append(ids, line)
	}
	return ids, sc.Err()
}

// confirm records the deletion the preview showed, as the session's key, and opens its page.
func (c *Console) confirm(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r)
	u, ok := c.sessions.takeUpload(ss, r.PostFormValue("token"))
	if !ok {
		c.fail(w, r, http.StatusConflict, "This preview was already confirmed, or replaced by a newer one: start a new deletion.")
		return
	}
	id, err := c.backend.requestDeletion(r.Context(), ss.actor, requestID(r), u.ids, u.groupID)
	if err != nil {
		if isInvalid(err) {
			c.render(w, r, http.StatusBadRequest, "new", newDeletionPage{Error: "Nothing was recorded: " + err.Error()})
			return
		}
		c.internal(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"deletions/"+url.PathEscape(id), http.StatusSeeOther)
}
