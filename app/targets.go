package app

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/domain"
)

// TargetInfo describes a configured external target, without its secrets.
type TargetInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // sophon, tencent, http
	Endpoint string `json:"endpoint"`
	// BatchSize is how many persons one call deletes (1: one call a person).
	BatchSize int `json:"batch_size"`
	// Rate is the calls per second this replica allows itself (0: unlimited).
	Rate float64 `json:"rate,omitempty"`
}

// SetTargets records the external targets deletions fan out to (GET /v1/targets).
func (del *Deletions) SetTargets(ts []TargetInfo) { del.targets = ts }

// Targets returns the external targets deletions fan out to.
func (del *Deletions) Targets() []TargetInfo { return append([]TargetInfo{}, del.targets...) }

// TargetStatus is a configured external target with its live figures from the read model.
type TargetStatus struct {
	TargetInfo
	Pending   int // persons whose deletion waits on the target
	Confirmed int // persons the target confirmed deleting
	Failed    int // persons the target refused, until an operator's retry
	// LastError is the most recent refusal among the persons it refuses now; nil when none.
	LastError   *TargetError
	LastErrorAt *time.Time
}

// TargetError is a target's refusal: the item error code and the target's message, in which
// the person's ID is replaced by {person_id}.
type TargetError struct {
	Code    string
	Message string
}

// TargetStatuses returns the configured targets in configuration order with their figures:
// one grouped count over the outcomes, then for each target that refuses persons its latest
// refusal (one read of the target_outcomes_target index).
func (del *Deletions) TargetStatuses(ctx context.Context) ([]TargetStatus, error) {
	out := make([]TargetStatus, len(del.targets))
	if len(del.targets) == 0 {
		return out, nil
	}
	counts, err := del.reads.TargetCounts(ctx)
	if err != nil {
		return nil, err
	}
	at := make(map[string]*TargetStatus, len(del.targets))
	for i, t := range del.targets {
		out[i].TargetInfo = t
		at[t.Name] = &out[i]
	}
	for _, c := range counts {
		s := at[c.Target]
		if s == nil {
			continue // a target no longer configured
		}
		switch c.State {
		case "pending":
			s.Pending = c.N
		case "deleted":
			s.Confirmed = c.N
		case "failed":
			s.Failed = c.N
		}
	}
	for i := range out {
		if out[i].Failed == 0 {
			continue
		}
		last, err := del.reads.LastRefusal(ctx, out[i].Name)
		if err != nil {
			return nil, err
		}
		when := last.UpdatedAt.UTC()
		out[i].LastError = &TargetError{Code: domain.CodeStepFailed, Message: targetMessage(last.LastError, out[i].Name, last.PersonID)}
		out[i].LastErrorAt = &when
	}
	return out, nil
}

// targetMessage takes target's part of a person's targets failure ("target a: …; target b: …",
// as the saga joins them) and replaces the person's ID, as given or URL-escaped, by {person_id}:
// the figures describe the target, not one person.
func targetMessage(msg, target, personID string) string {
	prefix := "target " + target + ": "
	if i := strings.Index(msg, prefix); i >= 0 {
		msg = msg[i+len(prefix):]
		if j := strings.Index(msg, "; target "); j >= 0 {
			msg = msg[:j]
		}
	}
	if personID == "" {
		return msg
	}
	seen := map[string]bool{}
	for _, id := range []string{personID, url.PathEscape(personID), url.QueryEscape(personID)} {
		if !seen[id] {
			seen[id] = true
			msg = replaceWord(msg, id, "{person_id}")
		}
	}
	return msg
}

// replaceWord replaces old in s where it stands as a whole word (no letter, digit, '-' or '_'
// either side), so that a short ID such as "1" leaves "edge-1" alone.
func replaceWord(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		if (i == 0 || !wordByte(s[i-1])) && (end == len(s) || !wordByte(s[end])) {
			b.WriteString(s[:i])
			b.WriteString(repl)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}

func wordByte(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
