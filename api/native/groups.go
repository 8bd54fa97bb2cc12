package native

import "net/http"

func (api *API) registerGroups(mux *http.ServeMux) {
	mux.HandleFunc("DELETE /v1/groups/{id}", answer(api.deleteGroup))
}

// deleteGroup puts the group into the deleting state and answers 202 with the deletion request
// whose items are its members (recorded by the group-deletion saga, visible by the time of the
// answer); GET /v1/groups/{id} shows it deleting until it is gone (404).
func (api *API) deleteGroup(r *http.Request) (reply, error) {
	id, err := api.app.DeleteGroup(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		return reply{}, err
	}
	if err := api.app.WaitDeletionRecorded(r.Context(), id); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted, body: map[string]string{"deletion_id": id, "status_url": "/v1/deletions/" + id}}, nil
}
