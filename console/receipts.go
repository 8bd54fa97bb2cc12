package console

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/receipts"
)

// maxReceipt bounds an uploaded receipt: a receipt is a few KiB (one line per step of one
// person's deletion), so a larger file is not one.
const maxReceipt = 1 << 20

// registerReceipts adds the Receipts page's routes (page wraps a handler in the console's headers and
// session). Verifying an upload changes nothing, so it takes the form's token but not a key
// that may change things: a read-only key may verify.
func (c *Console) registerReceipts(mux *http.ServeMux, page func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET "+Prefix+"receipts", page(c.receiptsPage))
	mux.Handle("GET "+Prefix+"receipts/download", page(c.downloadReceipt))
	mux.Handle("POST "+Prefix+"receipts/verify", page(c.boundReceipt(c.formToken(c.verifyReceipt))))
}

// receiptView is what a receipt states, as the page shows it.
type receiptView struct {
	PersonID, DeletionID, RequestID string
	JoinedDeletionIDs               []string
	RequestedAt, CompletedAt        time.Time
	Steps                           []receiptStep
	KeyDestroyed                    bool
	KeyDestroyedAt                  time.Time
	KeySeq                          uint64
	KeyMethod                       string
	Stream                          string
	AuditLink                       string // the deletion's entries in the audit trail
}

type receiptStep struct {
	Step, Event, Detail string
	At                  time.Time
	Seq                 uint64
	Count               *int
}

// receiptVerdict is the upload verifier's answer.
type receiptVerdict struct {
	Valid   bool
	Reason  string // why not, when not valid
	File    string // the uploaded file's name
	Receipt *receiptView
}

type receiptsPage struct {
	// The fetch form, as given, and the receipt it fetched.
	PersonID, DeletionID string
	Receipt              *receiptView
	Download             string
	// The key that verifies this service's receipts ("" when it has none).
	PublicKey, KeyID string
	Verdict          *receiptVerdict
}

// receiptsPage shows the forms, and the receipt of the person named in the query, if any.
func (c *Console) receiptsPage(w http.ResponseWriter, r *http.Request) {
	page := c.receiptKey()
	q := r.URL.Query()
	page.PersonID, page.DeletionID = strings.TrimSpace(q.Get("person_id")), strings.TrimSpace(q.Get("deletion_id"))
	if page.PersonID == "" && page.DeletionID == "" {
		c.render(w, r, http.StatusOK, "receipts", page)
		return
	}
	file, ok := c.loadReceipt(w, r, page.PersonID, page.DeletionID)
	if !ok {
		return
	}
	pub, err := c.backend.receiptPublicKey()
	if err != nil {
		c.internal(w, r, err)
		return
	}
	rc, err := receipts.Verify(file, pub) // the service's own receipt: a failure here is the service's fault
	if err != nil {
		c.internal(w, r, fmt.Errorf("the service's own receipt of %s does not verify: %w", page.PersonID, err))
		return
	}
	page.Receipt = viewOf(rc)
	dl := url.Values{"person_id": {page.PersonID}}
	if page.DeletionID != "" {
		dl.Set("deletion_id", page.DeletionID)
	}
	page.Download = Prefix + "receipts/download?" + dl.Encode()
	c.render(w, r, http.StatusOK, "receipts", page)
}

// downloadReceipt answers the signed receipt file byte for byte as signed (re-encoding it
// would break its signature), to be saved and verified offline.
func (c *Console) downloadReceipt(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	personID, deletionID := strings.TrimSpace(q.Get("person_id")), strings.TrimSpace(q.Get("deletion_id"))
	file, ok := c.loadReceipt(w, r, personID, deletionID)
	if !ok {
		return
	}
	name := "receipt-" + personID
	if deletionID != "" {
		name += "-" + deletionID
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": safeFileName(name) + ".json"}))
	_, _ = w.Write(file)
}

// loadReceipt reads the signed receipt of the person's deletion (the last completed one when
// deletionID is empty), answering the page itself when it cannot.
func (c *Console) loadReceipt(w http.ResponseWriter, r *http.Request, personID, deletionID string) ([]byte, bool) {
	if personID == "" {
		c.fail(w, r, http.StatusBadRequest, "Give the ID of the person whose receipt you want.")
		return nil, false
	}
	if err := validID(personID); err != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The person ID %q is not valid (%v): use letters, digits and _-%%@#&, up to 64 of them.", personID, err))
		return nil, false
	}
	if deletionID != "" {
		if err := validID(deletionID); err != nil {
			c.fail(w, r, http.StatusBadRequest, fmt.Sprintf("The deletion ID %q is not valid (%v): copy it from the deletion's page, or leave it empty for the person's last deletion.", deletionID, err))
			return nil, false
		}
	}
	file, err := c.backend.receipt(r.Context(), personID, deletionID)
	switch {
	case isNoReceipt(err) && deletionID != "":
		c.fail(w, r, http.StatusNotFound, "Person "+personID+" has no completed deletion "+deletionID+", so no receipt of it: the person is unknown, the deletion did not name them, or it has not finished.")
		return nil, false
	case isNoReceipt(err):
		c.fail(w, r, http.StatusNotFound, "Person "+personID+" has no completed deletion, so no receipt: the person is unknown, or their deletion has not finished.")
		return nil, false
	case isNoSigner(err):
		c.fail(w, r, http.StatusServiceUnavailable, "This service has no receipt signing key, so it issues no receipts.")
		return nil, false
	case err != nil:
		c.internal(w, r, err)
		return nil, false
	}
	return file, true
}

// boundReceipt refuses a verification whose body is larger than a receipt can be, before the
// form is read; the body it keeps is in memory, so it is read once.
func (c *Console) boundReceipt(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxReceipt + maxForm) // the file and the form around it
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			c.fail(w, r, http.StatusBadRequest, "The upload could not be read: "+err.Error())
			return
		}
		if int64(len(body)) > limit {
			c.fail(w, r, http.StatusBadRequest, "The file is larger than "+byteSize(maxReceipt)+": a receipt is a few KiB, so this is not one. Choose the receipt file you downloaded.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next(w, r)
	}
}

// verifyReceipt checks an uploaded receipt offline: the file and this service's public key
// alone, with no lookup in the log. A file that is not a signed receipt is a 400. A receipt
// that does not verify is a 200 whose verdict says why: the verifier did its work, and the
// answer is "no" (the service is not at fault, unlike a broken audit chain, which is a 409).
func (c *Console) verifyReceipt(w http.ResponseWriter, r *http.Request) {
	page := c.receiptKey()
	if page.PublicKey == "" {
		c.fail(w, r, http.StatusServiceUnavailable, "This service has no receipt signing key, so it cannot tell whether a receipt is its own.")
		return
	}
	if r.MultipartForm == nil || len(r.MultipartForm.File["file"]) == 0 {
		c.fail(w, r, http.StatusBadRequest, "Choose a receipt file to verify.")
		return
	}
	fh := r.MultipartForm.File["file"][0]
	f, err := fh.Open()
	if err != nil {
		c.internal(w, r, fmt.Errorf("open the uploaded receipt: %w", err))
		return
	}
	defer f.Close()
	file, err := io.ReadAll(io.LimitReader(f, maxReceipt+1))
	if err != nil {
		c.internal(w, r, fmt.Errorf("read the uploaded receipt: %w", err))
		return
	}
	if len(file) > maxReceipt {
		c.fail(w, r, http.StatusBadRequest, "The file is larger than "+byteSize(maxReceipt)+": a receipt is a few KiB, so this is not one.")
		return
	}
	pub, err := c.backend.receiptPublicKey()
	if err != nil {
		c.internal(w, r, err)
		return
	}
	v, err := checkReceipt(file, pub)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "This file is not a signed deletion receipt ("+err.Error()+"): choose a receipt file downloaded from this page or GET /v1/receipts/{person_id}.")
		return
	}
	v.File = fh.Filename
	page.Verdict = &v
	c.render(w, r, http.StatusOK, "receipts", page)
}

// checkReceipt verifies a receipt file against the trusted key, as `erasure receipt verify
// --public-key` does: first against the key the file names (an altered file or a broken
// signature is a "no" whatever key is trusted), then that the key is the trusted one (anyone
// may edit a receipt and sign it with a key of their own). It errs only for a file that is
// not a signed receipt at all.
func checkReceipt(file []byte, trusted ed25519.PublicKey) (receiptVerdict, error) {
	var env struct {
		Receipt   json.RawMessage `json:"receipt"`
		Algorithm string          `json:"algorithm"`
		PublicKey string          `json:"public_key"`
		Signature string          `json:"signature"`
	}
	if err := json.Unmarshal(file, &env); err != nil {
		return receiptVerdict{}, errors.New("it is not JSON")
	}
	if len(env.Receipt) == 0 || env.Signature == "" {
		return receiptVerdict{}, errors.New("it has no signed receipt in it")
	}
	if _, err := receipts.Verify(file, nil); err != nil {
		reason := "the file is not byte for byte the receipt that was signed: it was changed after signing"
		if errors.Is(err, receipts.ErrBadSignature) {
			reason = "the signature does not match the receipt: its content was changed after it was signed"
		}
		return receiptVerdict{Reason: reason}, nil
	}
	rc, err := receipts.Verify(file, trusted)
	if errors.Is(err, receipts.ErrUntrustedKey) {
		pub, _ := receipts.ParsePublicKey(env.PublicKey)
		return receiptVerdict{Reason: fmt.Sprintf("it was signed by key %s, not by this service's key %s: it is not this service's receipt",
			receipts.KeyID(pub), receipts.KeyID(trusted))}, nil
	}
	if err != nil {
		return receiptVerdict{Reason: err.Error()}, nil
	}
	return receiptVerdict{Valid: true, Receipt: viewOf(rc)}, nil
}

// receiptKey is the Receipts page with this service's public key, if it has one.
func (c *Console) receiptKey() receiptsPage {
	pub, err := c.backend.receiptPublicKey()
	if err != nil {
		return receiptsPage{}
	}
	return receiptsPage{PublicKey: receipts.EncodePublicKey(pub), KeyID: receipts.KeyID(pub)}
}

func viewOf(rc receipts.Receipt) *receiptView {
	v := &receiptView{PersonID: rc.PersonID, DeletionID: rc.DeletionID, RequestID: rc.RequestID, JoinedDeletionIDs: rc.JoinedDeletionIDs,
		RequestedAt: receiptTime(rc.RequestedAt), CompletedAt: receiptTime(rc.CompletedAt),
		KeyDestroyed: rc.KeyDestruction.Destroyed, KeyDestroyedAt: receiptTime(rc.KeyDestruction.At), KeySeq: rc.KeyDestruction.Seq,
		KeyMethod: rc.KeyDestruction.Method, Stream: rc.Stream,
		AuditLink: Prefix + "audit?" + url.Values{"person_id": {rc.PersonID}, "request_id": {rc.DeletionID}}.Encode()}
	for _, s := range rc.Steps {
		v.Steps = append(v.Steps, receiptStep{Step: s.Step, Event: s.Event, At: receiptTime(s.At), Detail: s.Detail, Seq: s.Seq, Count: s.Count})
	}
	return v
}

// receiptTime reads a receipt's time. A receipt that verified was written by receipts.Build,
// always in receipts.TimeFormat.
func receiptTime(s string) time.Time {
	t, _ := time.Parse(receipts.TimeFormat, s)
	return t
}

// safeFileName keeps letters, digits, '-' and '_' of name and makes every other byte '_': a
// person ID may hold '%', '#' or '/', which some browsers decode or act on in a filename.
func safeFileName(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
