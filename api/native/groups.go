package native

import (
	"net/http"

	"github.com/erasure-dev/erasure/api/httpx"
)

func (api *API) registerGroups(mux *http.ServeMux) {
	mux.HandleFunc("DELETE /v1/groups/{id}", api.deleteGroup)
}

// deleteGroup puts the group into the deleting state and answers 202 with the deletion request
// whose items are its members (recorded by the group-deletion saga, visible by the time of the
// answer); GET /v1/groups/{id} shows it deleting until it is gone (404).
func (api *API) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, err := api.app.DeleteGroup(r.Context(), meta(r), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := api.app.WaitDeletionRecorded(r.Context(), id); err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"deletion_id": id, "status_url": "/v1/deletions/" + id})
}
