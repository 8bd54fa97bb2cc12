package webhooks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/events"
)

// Event types a subscription may ask for (DESIGN §5).
const (
	TypePersonDeleted        = "person.deleted"
	TypePersonDeletionFailed = "person.deletion_failed"
	TypeDeletionCompleted    = "deletion.completed"
	TypeGroupDeleted         = "group.deleted"
)

// EventTypes lists every event type, in the order the documentation gives them.
var EventTypes = []string{TypePersonDeleted, TypePersonDeletionFailed, TypeDeletionCompleted, TypeGroupDeleted}

func knownType(t string) bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Body is a delivery's JSON body in the standard format.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"` // when the outcome was recorded (the event's time)
	Data      any       `json:"data"`
}

// PersonDeletedData is the data of person.deleted. DeletionID is the request whose saga deleted
// the person (a later request for the same person joins that saga and shares its outcome).
type PersonDeletedData struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
}

// PersonDeletionFailedData is the data of person.deletion_failed: the item error code (DESIGN
// §5: STEP_FAILED with the step, ID_NOT_FOUND, NOT_IN_GROUP) and the step that failed. The
// free-text message stays out: it may quote a downstream store's answer.
type PersonDeletionFailedData struct {
	PersonID   string `json:"person_id"`
	DeletionID string `json:"deletion_id"`
	Code       string `json:"code"`
	Step       string `json:"step,omitempty"`
}

// DeletionCompletedData is the data of deletion.completed: every item of the request is terminal.
type DeletionCompletedData struct {
	DeletionID string `json:"deletion_id"`
	GroupID    string `json:"group_id,omitempty"`
	Total      int    `json:"total"`
	Deleted    int    `json:"deleted"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
}

// GroupDeletedData is the data of group.deleted.
type GroupDeletedData struct {
	GroupID    string `json:"group_id"`
	DeletionID string `json:"deletion_id,omitempty"`
}

// SophonResult is the body a callback in the Sophon format gets: the management platform's
// deleteidentities result (reference/sophon/mq-deleteusers.md), plus request_id naming the
// deletion on the native API.
type SophonResult struct {
	Result     bool       `json:"result"`
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	MessageKey string     `json:"message_key"`
	RequestID  string     `json:"request_id"`
	ExtData    SophonExts `json:"ext_data"`
}

// SophonExts lists a Sophon deletion's outcome per identity.
type SophonExts struct {
	Success []string `json:"success_identity_ids"`
	Failed  []string `json:"failed_identity_ids"`
}

// notice is one webhook message: what every interested endpoint gets for one outcome.
type notice struct {
	id        string // webhook-id: the event id (with the item's position for one of many)
	eventType string
	seq       uint64
	body      []byte
}

func newMessage(id, eventType string, r events.Recorded, data any) (notice, error) {
	body, err := json.Marshal(Body{Type: eventType, Timestamp: r.Time.UTC(), Data: data})
	if err != nil {
		return notice{}, fmt.Errorf("webhook body of %s: %w", r.Type, err)
	}
	return notice{id: id, eventType: eventType, seq: r.Seq, body: body}, nil
}

// itemMessageID names the message of one item of an event that settles many (a dispatch that
// failed several IDs): the event id and the item's position, stable across redeliveries.
func itemMessageID(eventID string, position int) string {
	return eventID + "-" + strconv.Itoa(position)
}
