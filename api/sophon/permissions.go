package sophon

import (
	"fmt"
	"net/http"

	"github.com/erasure-dev/erasure/app"
)

// Paging of the list endpoints. Sophon's examples answer page_limit 10 to a request without
// one; it documents no maximum, and 1000 is the native API's.
const (
	defaultPageLimit = 10
	maxPageLimit     = 1000
)

type permissionJSON struct {
	PermissionID   string `json:"permission_id"`
	PermissionName string `json:"permission_name"`
	Description    string `json:"description"`
}

func toPermissionJSON(g app.PermissionGroup) permissionJSON {
	return permissionJSON{PermissionID: g.PermissionGroupID, PermissionName: g.Name, Description: g.Description}
}

type paginationJSON struct {
	PageIndex  int `json:"page_index"`
	PageLimit  int `json:"page_limit"`
	TotalCount int `json:"total_count"`
}

// page checks page_limit and page_index and returns the limit and the offset.
func page(limit, index *int) (int, int, error) {
	l, i := defaultPageLimit, 0
	if limit != nil {
		l = *limit
	}
	if index != nil {
		i = *index
	}
	if l < 1 || l > maxPageLimit {
		return 0, 0, fmt.Errorf("%w: page_limit must be 1..%d", errInvalid, maxPageLimit)
	}
	if i < 0 || i > (1<<31)/l {
		return 0, 0, fmt.Errorf("%w: page_index must be 0 or more", errInvalid)
	}
	return l, i * l, nil
}

func (api *API) createPermission(r *http.Request) (any, error) {
	var req struct {
		PermissionName string `json:"permission_name"`
		PermissionID   string `json:"permission_id"`
		Description    string `json:"description"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	if req.PermissionName == "" {
		return nil, fmt.Errorf("%w: permission_name", errMissing)
	}
	// An empty permission_id asks for a generated one (the doc: "如果该参数为空，则会由系统自动生成").
	g, err := api.app.CreatePermissionGroup(r.Context(), caller(r), req.PermissionID, req.PermissionName, req.Description)
	if err != nil {
		return nil, err
	}
	return toPermissionJSON(g), nil
}

func (api *API) getPermissions(r *http.Request) (any, error) {
	var req struct {
		PermissionName string `json:"permission_name"`
		PageLimit      *int   `json:"page_limit"`
		PageIndex      *int   `json:"page_index"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	limit, offset, err := page(req.PageLimit, req.PageIndex)
	if err != nil {
		return nil, err
	}
	groups, total, err := api.app.ListPermissionGroups(r.Context(), req.PermissionName, offset, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Permissions []permissionJSON `json:"permissions"`
		Pagination  paginationJSON   `json:"pagination"`
	}{Permissions: make([]permissionJSON, len(groups)), Pagination: paginationJSON{PageIndex: offset / limit, PageLimit: limit, TotalCount: total}}
	for i, g := range groups {
		out.Permissions[i] = toPermissionJSON(g)
	}
	return out, nil
}

// permissionRef is the "permission_id or permission_name" of getpermission and deletepermission.
type permissionRef struct {
	PermissionID   string `json:"permission_id"`
	PermissionName string `json:"permission_name"`
}

// resolve finds the permission group named by id or by name. With both, the id counts, as
// deleteface documents for its own pair of alternatives (the permission docs are silent).
func (api *API) resolve(r *http.Request, ref permissionRef) (app.PermissionGroup, error) {
	switch {
	case ref.PermissionID != "":
		return api.app.GetPermissionGroup(r.Context(), ref.PermissionID)
	case ref.PermissionName != "":
		return api.app.GetPermissionGroupByName(r.Context(), ref.PermissionName)
	}
	return app.PermissionGroup{}, fmt.Errorf("%w: permission_id or permission_name", errMissing)
}

func (api *API) getPermission(r *http.Request) (any, error) {
	var ref permissionRef
	if err := decode(r, maxSmallBody, &ref); err != nil {
		return nil, err
	}
	g, err := api.resolve(r, ref)
	if err != nil {
		return nil, err
	}
	return toPermissionJSON(g), nil
}

// deletePermission deletes a permission group: every bound identity is unbound (in the
// permission directory and on the identity), then the group is gone and its name free. It answers
// once the identities' next reads no longer list it.
func (api *API) deletePermission(r *http.Request) (any, error) {
	var ref permissionRef
	if err := decode(r, maxSmallBody, &ref); err != nil {
		return nil, err
	}
	id := ref.PermissionID
	if id == "" {
		g, err := api.resolve(r, ref)
		if err != nil {
			return nil, err
		}
		id = g.PermissionGroupID
	}
	// By id, a group already being deleted (a repeat after a TIMEOUT) joins its deletion.
	if err := api.app.DeletePermissionGroup(r.Context(), caller(r), id); err != nil {
		return nil, err
	}
	return map[string]string{"permission_id": id}, nil
}
