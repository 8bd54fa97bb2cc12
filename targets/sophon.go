package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/erasure-dev/erasure/sagas"
)

// sophonTarget deletes persons from a Sophon box with deleteidentities, batch_size IDs a call.
// An ID the box lists as failed is asked about (getidentity): if the box no longer knows it,
// it is deleted (the box answers unknown IDs as failed); otherwise the box refused it.
type sophonTarget struct {
	spec   Spec
	token  string
	client *http.Client
}

func newSophon(s Spec, token string) *sophonTarget {
	return &sophonTarget{spec: s, token: token, client: &http.Client{Timeout: s.Timeout}}
}

func (t *sophonTarget) Name() string { return t.spec.Name }

// errSophonRefused: the box listed the ID as failed and still holds it.
var errSophonRefused = errors.New("the box reported the deletion as failed")

func (t *sophonTarget) DeletePersons(ctx context.Context, ids []string) map[string]error {
	errs := map[string]error{}
	for start := 0; start < len(ids); start += t.spec.Batch {
		chunk := ids[start:min(start+t.spec.Batch, len(ids))]
		var answer struct {
			Success []string `json:"success_identity_ids"`
			Failed  []string `json:"failed_identity_ids"`
			Pending []string `json:"pending_identity_ids"`
		}
		if err := t.call(ctx, "deleteidentities", map[string]any{"identity_ids": chunk}, &answer); err != nil {
			for _, id := range chunk {
				errs[id] = err
			}
			continue
		}
		listed := map[string]bool{}
		for _, id := range answer.Success {
			listed[id] = true
		}
		for _, id := range answer.Pending {
			listed[id] = true
			errs[id] = fmt.Errorf("%s: still deleting at the box", t.spec.Name)
		}
		for _, id := range answer.Failed {
			listed[id] = true
			if err := t.confirmGone(ctx, id); err != nil {
				errs[id] = err
			}
		}
		for _, id := range chunk {
			if !listed[id] {
				errs[id] = fmt.Errorf("%s: the box did not answer for the id", t.spec.Name)
			}
		}
	}
	return errs
}

// confirmGone asks the box about an ID it could not delete: nil if it does not know it.
func (t *sophonTarget) confirmGone(ctx context.Context, id string) error {
	err := t.call(ctx, "getidentity", map[string]any{"identity_id": id}, &struct{}{})
	var se *sophonError
	switch {
	case errors.As(err, &se) && se.Code == "ID_NOT_FOUND":
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%s: %w", t.spec.Name, errSophonRefused)
}

type sophonError struct {
	Status        int
	Code, Message string
}

func (e *sophonError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (t *sophonTarget) call(ctx context.Context, endpoint string, body, out any) error {
	raw, _ := json.Marshal(body)
	u := strings.TrimSuffix(t.spec.URL, "/") + "/sophon/v2/face/" + endpoint
	resp, err := send(ctx, t.client, t.spec.Name, http.MethodPost, u, bytes.NewReader(raw), t.token, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: unreadable answer: %w", t.spec.Name, err)
		}
		return nil
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
		se := &sophonError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || se.Code == "ID_NOT_FOUND" {
			return fmt.Errorf("%s: %w", t.spec.Name, se)
		}
		return fmt.Errorf("%s: %w: %w", t.spec.Name, sagas.ErrPermanent, se)
	}
	return classify(t.spec.Name, resp.StatusCode, data)
}
