package native

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// requestErrors documents every request-level error code of the native API: docs/api.md's table
// and /openapi.json list the same rows (TestErrorCodesDocumented checks them against errorTable
// and docs/api.md).
var requestErrors = []struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
	When   string `json:"when"`
}{
	{"INVALID_JSON", 400, "the body is not one JSON value"},
	{"UNKNOWN_FIELD", 400, "the body has a field the endpoint does not know"},
	{"INVALID_ARGUMENT", 400, "a field has the wrong type or a query parameter is out of range"},
	{"MISSING_ARGUMENT", 400, "a required field is missing or empty"},
	{"INVALID_BODY", 400, "a streamed deletion body could not be read"},
	{"INVALID_ID", 400, "an ID has characters outside [A-Za-z0-9_\\-%@#&]"},
	{"ID_TOO_LONG", 400, "an ID is longer than 64 characters"},
	{"DUPLICATE_ID", 400, "the same ID appears twice in one list"},
	{"INVALID_NAME", 400, "a name has control characters or is not UTF-8"},
	{"NAME_TOO_LONG", 400, "a name is longer than 60 characters"},
	{"TAG_TOO_LONG", 400, "a group tag is longer than 40 characters"},
	{"IMAGE_EMPTY", 400, "a photo has no data"},
	{"IMAGE_DECODE_ERROR", 400, "a photo is not a decodable JPEG or PNG"},
	{"IMAGE_TOO_LARGE", 413, "a photo is over 5 MB of base64"},
	{"IMAGE_RESOLUTION_TOO_LARGE", 400, "a photo's header declares more than 4096 px a side (refused before decoding)"},
	{"TOO_MANY_FACES", 400, "more than 5 photos for one person"},
	{"TOO_MANY_GROUPS", 400, "more than 100 groups for one person"},
	{"BODY_TOO_LARGE", 413, "the request body is over the endpoint's limit"},
	{"BODY_TOO_SLOW", 408, "the request body sent nothing for ERASURE_BODY_TIMEOUT (10 s), or under 1 KiB/s on average after it"},
	{"UNSUPPORTED_MEDIA_TYPE", 415, "the body is not application/json (deletions: nor text/plain or application/x-ndjson)"},
	{"UNAUTHENTICATED", 401, "no bearer API key, or one the server does not know (ERASURE_API_KEYS)"},
	{"HOST_NOT_ALLOWED", 403, "the Host header is not a name of this server: loopback names and addresses, and ERASURE_ALLOWED_HOSTS"},
	{"CROSS_SITE_REQUEST", 403, "a browser sent a state-changing request from another site (Sec-Fetch-Site, or an Origin other than the Host, or null)"},
	{"READ_ONLY_KEY", 403, "a read-only API key (name:key:read) sent a state-changing request"},
	{"RATE_LIMITED", 429, "the client's request rate is over ERASURE_RATE_LIMIT (Retry-After)"},
	{"TOO_MANY_BULK_REQUESTS", 429, "more bulk deletion requests streaming at once than ERASURE_MAX_BULK (Retry-After)"},
	{"TOO_MANY_STREAMS", 429, "more event streams (GET /v1/deletions/{id}/events) open at once than ERASURE_MAX_STREAMS_PER_CLIENT for the client or ERASURE_MAX_STREAMS in all (Retry-After)"},
	{"TOO_MANY_LARGE_REQUESTS", 429, "too many requests with bodies over 1 MiB in flight at once (Retry-After)"},
	{"URL_TOO_LONG", 414, "the request target is over 16 KiB"},
	{"HEADERS_TOO_LARGE", 431, "the request headers are over 32 KiB"},
	{"INVALID_URL", 400, "a webhook URL is not an absolute http(s) URL"},
	{"URL_NOT_ALLOWED", 400, "a webhook URL is in a loopback or private range (ERASURE_WEBHOOK_ALLOW_PRIVATE)"},
	{"UNKNOWN_EVENT_TYPE", 400, "a webhook event type the server does not send"},
	{"WEBHOOK_DISABLED", 409, "the webhook subscription is disabled"},
	{"PERSON_EXISTS", 409, "the person ID is taken"},
	{"GROUP_EXISTS", 409, "the group ID is taken"},
	{"PERSON_DELETING", 409, "the person is being deleted"},
	{"GROUP_DELETING", 409, "the group is being deleted"},
	{"PERMISSION_GROUP_DELETING", 409, "a named permission group is being deleted"},
	{"PERMISSION_NAME_TAKEN", 409, "a permission group created for the registration could not get a unique name"},
	{"PERSON_NOT_FOUND", 404, "no such person (or it was deleted)"},
	{"GROUP_NOT_FOUND", 404, "no such group"},
	{"FACE_NOT_FOUND", 404, "no such face"},
	{"NOT_FOUND", 404, "no such endpoint or resource"},
	{"NO_RECEIPT", 404, "no deletion receipt for the person (not deleted, or not by that deletion)"},
	{"DELETION_FINISHED", 409, "POST /v1/deletions/{id}/cancel on a request whose items are all terminal"},
	{"BUSY", 503, "too many concurrent changes to one aggregate; retry (Retry-After)"},
	{"UNAVAILABLE", 503, "the log or the database is down, unreachable or full; retry (Retry-After). Nothing was stored unless the log did not confirm in time (then the request may have been recorded)"},
	{"TIMEOUT", 503, "the read model did not show the write in time; the write is durable, retry the read"},
	{"NOT_READY", 503, "/readyz: JetStream or the read model is not ready"},
	{"INTERNAL", 500, "a bug; the log has the request id (X-Request-Id)"},
}

// operation is one route of the native API as /openapi.json describes it.
type operation struct {
	method, path, summary string
	open                  bool     // no API key required (health, readiness, metrics, this document)
	params                []string // "in:name:description", in being path or query
	body                  string   // request schema name
	optionalBody          bool     // the body may be left out
	status                int      // success status
	answer                string   // success schema name ("" for a free-form object)
	contentType           string   // of the answer, default application/json
}

// operations lists every route of the native surface (TestOpenAPIMatchesRoutes checks them
// against what Register and the service register).
var operations = []operation{
	{method: "POST", path: "/v1/groups", summary: "Create a group", body: "GroupCreate", status: 201, answer: "Group"},
	{method: "GET", path: "/v1/groups", summary: "List groups", params: pageParamsDoc, status: 200, answer: "GroupList"},
	{method: "GET", path: "/v1/groups/{id}", summary: "Get a group", params: []string{"path:id:group id"}, status: 200, answer: "Group"},
	{method: "DELETE", path: "/v1/groups/{id}", summary: "Delete a group: its members leave it (and are deleted when it was their last group)",
		params: []string{"path:id:group id"}, status: 202, answer: "DeletionAccepted"},
	{method: "POST", path: "/v1/persons", summary: "Register a person with photos, groups and permission groups", body: "PersonCreate", status: 201, answer: "PersonCreated"},
	{method: "GET", path: "/v1/persons", summary: "List persons", params: append([]string{"query:group_id:only members of this group"}, pageParamsDoc...), status: 200, answer: "PersonList"},
	{method: "GET", path: "/v1/persons/{id}", summary: "Get a person (404 once deleted)", params: []string{"path:id:person id"}, status: 200, answer: "Person"},
	{method: "POST", path: "/v1/deletions", summary: "Request the deletion of persons: JSON, or a text/plain or NDJSON stream of IDs (millions)",
		params: []string{"query:group_id:remove only this membership (streams)", "query:idempotency_key:repeat-safe key (streams)", "query:callback_url:(streams)", "query:callback_format:standard or sophon (streams)"},
		body:   "DeletionRequest", status: 202, answer: "DeletionAccepted"},
	{method: "GET", path: "/v1/deletions", summary: "Deletion requests, newest first, with who requested each and through which surface",
		params: append([]string{"query:state:running, completed or cancelled", "query:since:RFC 3339 time or date (created at or after)",
			"query:until:RFC 3339 time or date (created at or before)", "query:actor:only requests of this actor (an API key's name, native-api, sophon-api, tencent-api)"},
			pageParamsDoc...),
		status: 200, answer: "DeletionList"},
	{method: "GET", path: "/v1/deletions/{id}/failures", summary: "A deletion request's failed items grouped by error code, step and target, the largest group first",
		params: []string{"path:id:deletion id"}, status: 200, answer: "DeletionFailures"},
	{method: "GET", path: "/v1/deletions/{id}", summary: "A deletion request's state and counters", params: []string{"path:id:deletion id"}, status: 200, answer: "Deletion"},
	{method: "GET", path: "/v1/deletions/{id}/items", summary: "A deletion request's items and their outcomes",
		params: []string{"path:id:deletion id", "query:state:pending, deleted, failed or cancelled",
			"query:code:only items with this error code (an unknown code matches nothing)", "query:target:only items this external target refused (a failure group's target)",
			"query:after:cursor (next of the previous page)", "query:limit:1..1000, default 100"},
		status: 200, answer: "DeletionItems"},
	{method: "POST", path: "/v1/deletions/{id}/retry", summary: "Retry the items that failed at a step: all, or those of one failure group (GET .../failures)",
		params: []string{"path:id:deletion id"}, body: "RetryFilter", optionalBody: true, status: 202, answer: "RetryAccepted"},
	{method: "POST", path: "/v1/deletions/{id}/cancel", summary: "Cancel: items not yet past step 1 become cancelled", params: []string{"path:id:deletion id"}, status: 200, answer: "Deletion"},
	{method: "GET", path: "/v1/deletions/{id}/events", summary: "Server-sent events: the deletion's progress until it completes",
		params: []string{"path:id:deletion id"}, status: 200, contentType: "text/event-stream"},
	{method: "GET", path: "/v1/targets", summary: "The external targets every deletion also deletes from (--targets), in configuration order, without secrets, with the persons pending on each, confirmed and refused by it, and its latest refusal", status: 200, answer: "Targets"},
	{method: "POST", path: "/v1/webhooks", summary: "Subscribe a URL to event types (the secret is only in this answer)", body: "WebhookCreate", status: 201, answer: "Webhook"},
	{method: "GET", path: "/v1/webhooks", summary: "List webhook subscriptions", status: 200, answer: ""},
	{method: "GET", path: "/v1/webhooks/{id}", summary: "Get a webhook subscription", params: []string{"path:id:webhook id"}, status: 200, answer: "Webhook"},
	{method: "DELETE", path: "/v1/webhooks/{id}", summary: "Delete a webhook subscription", params: []string{"path:id:webhook id"}, status: 204, answer: ""},
	{method: "POST", path: "/v1/webhooks/{id}/rotate", summary: "Rotate the secret; the old one keeps signing for overlap_seconds", params: []string{"path:id:webhook id"}, status: 200, answer: "Webhook"},
	{method: "GET", path: "/v1/webhooks/{id}/deliveries", summary: "A subscription's deliveries",
		params: append([]string{"path:id:webhook id", "query:state:pending, delivered or dead"}, pageParamsDoc...), status: 200, answer: ""},
	{method: "POST", path: "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", summary: "Deliver a (dead-lettered) delivery again",
		params: []string{"path:id:webhook id", "path:delivery:delivery id"}, status: 202, answer: ""},
	{method: "GET", path: "/v1/audit", summary: "Audit entries, oldest first",
		params: append([]string{"query:person_id:", "query:request_id:", "query:since:RFC 3339 time or date", "query:until:RFC 3339 time or date"}, pageParamsDoc...),
		status: 200, answer: "AuditPage"},
	{method: "GET", path: "/v1/audit/verify", summary: "Recompute the audit chain from the log (409 with the report on a break)", status: 200, answer: ""},
	{method: "GET", path: "/v1/audit/as-of", summary: "A person's state at a time, from the log", params: []string{"query:person_id:", "query:time:RFC 3339 time or date"}, status: 200, answer: ""},
	{method: "GET", path: "/v1/receipts/public-key", summary: "The Ed25519 key that signs deletion receipts", status: 200, answer: "PublicKey"},
	{method: "GET", path: "/v1/receipts/{person_id}", summary: "A person's signed deletion receipt, exactly as signed",
		params: []string{"path:person_id:person id", "query:deletion_id:which deletion, when the ID was deleted more than once"}, status: 200, answer: ""},
	{method: "GET", path: "/healthz", summary: "Liveness", open: true, status: 200, answer: "Status"},
	{method: "GET", path: "/readyz", summary: "Readiness: JetStream and the read model answer, and the read model caught up", open: true, status: 200, answer: "Status"},
	{method: "GET", path: "/metrics", summary: "Prometheus metrics (text exposition)", open: true, status: 200, contentType: "text/plain"},
	{method: "GET", path: "/openapi.json", summary: "This document", open: true, status: 200, answer: ""},
}

var pageParamsDoc = []string{"query:after:cursor (next of the previous page)", "query:limit:1..1000, default 100"}

func obj(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	str     = map[string]any{"type": "string"}
	integer = map[string]any{"type": "integer"}
	strs    = map[string]any{"type": "array", "items": str}
	stamp   = map[string]any{"type": "string", "format": "date-time"}
)

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func list(name string) map[string]any { return map[string]any{"type": "array", "items": ref(name)} }

func schemas() map[string]any {
	codes := make([]string, len(requestErrors))
	for i, e := range requestErrors {
		codes[i] = e.Code
	}
	return map[string]any{
		"Error": obj(map[string]any{"error": obj(map[string]any{
			"code": map[string]any{"type": "string", "enum": codes}, "message": str}, "code", "message")}, "error"),
		"Status":      obj(map[string]any{"status": str}),
		"GroupCreate": obj(map[string]any{"group_id": str, "name": str, "tag": str}, "group_id", "name"),
		"Group": obj(map[string]any{"group_id": str, "name": str, "tag": str,
			"state": map[string]any{"type": "string", "enum": []string{"active", "deleting"}}, "person_count": integer}),
		"GroupList": obj(map[string]any{"groups": list("Group"), "next": str}),
		"PersonCreate": obj(map[string]any{"person_id": str, "name": str, "group_ids": strs, "permission_group_ids": strs,
			"photos": map[string]any{"type": "array", "maxItems": 5, "items": obj(map[string]any{
				"image_base64": map[string]any{"type": "string", "description": "JPEG or PNG, plain base64 or a data: URL, at most 5 MB"}})}},
			"person_id", "name"),
		"PersonCreated": obj(map[string]any{"person_id": str, "face_ids": strs}),
		"Person": obj(map[string]any{"person_id": str, "name": str, "state": str, "group_ids": strs,
			"permission_group_ids": strs, "face_ids": strs}),
		"PersonList": obj(map[string]any{"persons": list("Person"), "next": str}),
		"DeletionRequest": obj(map[string]any{"person_ids": strs, "group_id": str, "idempotency_key": str,
			"callback_url": str, "callback_format": map[string]any{"type": "string", "enum": []string{"standard", "sophon"}}}, "person_ids"),
		"DeletionAccepted": obj(map[string]any{"deletion_id": str, "status_url": str, "existing": map[string]any{"type": "boolean"}}),
		"Deletion": obj(map[string]any{"deletion_id": str,
			"state": map[string]any{"type": "string", "enum": []string{"running", "completed", "cancelled"}},
			"total": integer, "pending": integer, "deleted": integer, "failed": integer, "cancelled": integer,
			"group_id": str, "callback_url": str, "created_at": stamp,
			"completed_at": map[string]any{"type": "string", "format": "date-time", "nullable": true}}),
		"ListedDeletion": map[string]any{"allOf": []any{ref("Deletion"), obj(map[string]any{
			"actor": map[string]any{"type": "string", "description": "who requested it: the API key's name or the surface's actor (a group's deletion: who requested the group's deletion)"},
			"source": map[string]any{"type": "string", "enum": []string{"native", "sophon", "tencent", "group"},
				"description": "the surface it came through; group: a group's deletion, on any surface"}})}},
		"DeletionList": obj(map[string]any{"deletions": list("ListedDeletion"),
			"next": map[string]any{"type": "string", "description": "cursor of the next page (after=); absent on the last page"}}),
		"DeletionFailures": obj(map[string]any{"groups": map[string]any{"type": "array", "items": obj(map[string]any{
			"code": str, "step": str, "target": map[string]any{"type": "string", "description": "the external target that refused the items; empty for other failures"},
			"count": integer, "examples": map[string]any{"type": "array", "maxItems": 5, "items": str,
				"description": "the smallest person IDs of the group, sorted"}})}}),
		"RetryFilter":   obj(map[string]any{"code": str, "step": str, "target": str}),
		"RetryAccepted": obj(map[string]any{"deletion_id": str, "retried": integer}),
		"DeletionItems": obj(map[string]any{"items": map[string]any{"type": "array", "items": obj(map[string]any{
			"person_id": str,
			"state":     map[string]any{"type": "string", "enum": []string{"pending", "deleted", "failed", "cancelled"}},
			"error": obj(map[string]any{"code": map[string]any{"type": "string",
				"enum": []string{"ID_NOT_FOUND", "INVALID_ID", "DUPLICATE_ID", "STEP_FAILED", "CANCELLED", "NOT_IN_GROUP"}},
				"message": str, "step": str}),
			"targets": map[string]any{"type": "array", "items": obj(map[string]any{"target": str,
				"state":    map[string]any{"type": "string", "enum": []string{"pending", "deleted", "failed"}},
				"attempts": integer, "last_error": str})}})},
			"next": map[string]any{"type": "string", "nullable": true}}),
		"Targets": obj(map[string]any{"targets": map[string]any{"type": "array", "items": obj(map[string]any{
			"name": str, "kind": map[string]any{"type": "string", "enum": []string{"sophon", "tencent", "http"}},
			"endpoint": str, "batch_size": integer, "rate": map[string]any{"type": "number"},
			"pending":   map[string]any{"type": "integer", "description": "persons whose deletion waits on the target"},
			"confirmed": map[string]any{"type": "integer", "description": "persons the target confirmed deleting"},
			"failed":    map[string]any{"type": "integer", "description": "persons the target refused, until a retry"},
			"last_error": map[string]any{"type": "object", "nullable": true, "properties": map[string]any{"code": str, "message": str},
				"description": "the latest refusal among the persons it refuses now; the person's ID reads {person_id}"},
			"last_error_at": map[string]any{"type": "string", "format": "date-time", "nullable": true}})}}),
		"AuditEntry": obj(map[string]any{"seq": integer, "time": str, "event_id": str, "actor": str, "action": str,
			"request_id": str, "deletion_id": str, "person_ids": strs, "group_ids": strs, "permission_group_ids": strs,
			"outcome": str, "prev_hash": str, "hash": str}),
		"AuditPage": obj(map[string]any{"entries": list("AuditEntry"), "next": str}),
		"WebhookCreate": obj(map[string]any{"url": str, "event_types": map[string]any{"type": "array", "items": map[string]any{"type": "string",
			"enum": []string{"person.deleted", "person.deletion_failed", "deletion.completed", "group.deleted"}}}}, "url", "event_types"),
		"Webhook": obj(map[string]any{"id": str, "url": str, "event_types": strs, "state": str, "created_at": stamp,
			"disabled_reason": str, "previous_secret_expires_at": stamp,
			"secret": map[string]any{"type": "string", "description": "whsec_…, only when created or rotated"}}),
		"PublicKey": obj(map[string]any{"algorithm": str, "public_key": str, "key_id": str}),
	}
}

// document builds the OpenAPI 3 description of the native API.
func document() map[string]any {
	paths := map[string]any{}
	for _, op := range operations {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		o := map[string]any{"summary": op.summary, "operationId": operationID(op)}
		var params []any
		for _, p := range op.params {
			parts := strings.SplitN(p, ":", 3)
			param := map[string]any{"in": parts[0], "name": parts[1], "schema": str}
			if parts[0] == "path" {
				param["required"] = true
			}
			if parts[2] != "" {
				param["description"] = parts[2]
			}
			params = append(params, param)
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.body != "" {
			content := map[string]any{"application/json": map[string]any{"schema": ref(op.body)}}
			if op.path == "/v1/deletions" {
				content["text/plain"] = map[string]any{"schema": map[string]any{"type": "string", "description": "one person ID a line"}}
				content["application/x-ndjson"] = map[string]any{"schema": map[string]any{"type": "string",
					"description": `one JSON string or {"person_id"} a line`}}
			}
			o["requestBody"] = map[string]any{"required": !op.optionalBody, "content": content}
		}
		answer := map[string]any{"type": "object"}
		if op.answer != "" {
			answer = ref(op.answer)
		}
		ct := op.contentType
		if ct == "" {
			ct = "application/json"
		}
		if ct != "application/json" {
			answer = str
		}
		o["responses"] = map[string]any{
			strconv.Itoa(op.status): map[string]any{"description": "success", "content": map[string]any{ct: map[string]any{"schema": answer}}},
			"default": map[string]any{"description": "an error (see x-error-codes)",
				"content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}},
		}
		if op.open {
			o["security"] = []any{}
		}
		item[strings.ToLower(op.method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "erasure native API", "version": "1",
			"description": "Deletes people from face-recognition systems. /v1 requires a bearer API key (ERASURE_API_KEYS) " +
				"when keys are configured, and always on a non-loopback address; /healthz and /readyz are open, and so are " +
				"/metrics and /openapi.json unless ERASURE_OPEN_ENDPOINTS closes them. Errors are {\"error\":{\"code\",\"message\"}}; x-error-codes lists every request-level code."},
		"paths":    paths,
		"security": []any{map[string]any{"bearerAuth": []any{}}},
		"components": map[string]any{
			"schemas":         schemas(),
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{"type": "http", "scheme": "bearer"}},
		},
		"x-error-codes": requestErrors,
	}
}

func operationID(op operation) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.method))
	for _, part := range strings.FieldsFunc(op.path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' || r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var openAPIJSON = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(document(), "", "  ")
	if err != nil {
		panic(err) // a bug in document(), caught by its tests
	}
	return b
})

// OpenAPI returns the OpenAPI 3 description of the native API.
func OpenAPI() []byte { return openAPIJSON() }

// Routes returns the "METHOD /path" of every operation /openapi.json describes, sorted.
func Routes() []string {
	out := make([]string, len(operations))
	for i, op := range operations {
		out[i] = op.method + " " + op.path
	}
	sort.Strings(out)
	return out
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI())
}
