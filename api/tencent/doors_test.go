package tencent_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestOneRegistryThreeDoors: a person created through the Tencent surface is visible and
// deletable through the native and Sophon surfaces, and the other way round.
func TestOneRegistryThreeDoors(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, tencentConfig(t, dialect))
		c := client(t, env)
		createGroup(t, c, "g")
		createGroup(t, c, "h")
		for i, id := range []string{"t-1", "t-2", "t-3", "t-4"} {
			createPerson(t, c, id, "g", i)
		}
		base := func(id string) error {
			req := iai.NewGetPersonBaseInfoRequest()
			req.PersonId = str(id)
			_, err := c.GetPersonBaseInfo(req)
			return err
		}

		status, p := native(t, env, http.MethodGet, "/v1/persons/t-1", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "李雷", p["name"])
		require.Equal(t, []any{"g"}, p["group_ids"])
		require.Len(t, p["face_ids"], 1)
		status, ident := native(t, env, http.MethodPost, "/sophon/v2/face/getidentity", `{"identity_id":"t-1"}`)
		require.Equal(t, http.StatusOK, status, ident)
		require.Equal(t, "李雷", ident["identity_name"])
		require.Equal(t, p["face_ids"], ident["face_ids"])

		// Deleted through the native API.
		status, d := native(t, env, http.MethodPost, "/v1/deletions", `{"person_ids":["t-1"]}`)
		require.Equal(t, http.StatusAccepted, status, d)
		eventually(t, 30*time.Second, func() bool {
			return errCode(base("t-1")) == "InvalidParameterValue.PersonIdNotExist"
		}, "deleted through the native API, gone from the Tencent surface")

		// Deleted through Sophon.
		status, ans := native(t, env, http.MethodPost, "/sophon/v2/face/deleteidentities", `{"identity_ids":["t-2"]}`)
		require.Equal(t, http.StatusOK, status, ans)
		require.Equal(t, []any{"t-2"}, ans["success_identity_ids"])
		requireCode(t, base("t-2"), "InvalidParameterValue.PersonIdNotExist")

		// The native deletion with a group removes that membership only (the person stays in
		// another), and answers NOT_IN_GROUP for a person outside the group.
		cp := iai.NewCopyPersonRequest()
		cp.PersonId, cp.GroupIds = str("t-3"), strs("h")
		_, err := c.CopyPerson(cp)
		require.NoError(t, err)
		status, d = native(t, env, http.MethodPost, "/v1/deletions", `{"person_ids":["t-3","t-4"],"group_id":"h"}`)
		require.Equal(t, http.StatusAccepted, status, d)
		id := d["deletion_id"].(string)
		eventually(t, 30*time.Second, func() bool {
			_, d := native(t, env, http.MethodGet, "/v1/deletions/"+id, "")
			return d["state"] == "completed"
		}, "the group deletion request completes")
		_, items := native(t, env, http.MethodGet, "/v1/deletions/"+id+"/items", "")
		got := map[string]string{}
		for _, it := range items["items"].([]any) {
			m := it.(map[string]any)
			got[m["person_id"].(string)] = fmt.Sprint(m["state"], " ", m["error"])
		}
		require.Contains(t, got["t-3"], "deleted")
		require.Contains(t, got["t-4"], "NOT_IN_GROUP")
		pg := iai.NewGetPersonGroupInfoRequest()
		pg.PersonId = str("t-3")
		pgi, err := c.GetPersonGroupInfo(pg)
		require.NoError(t, err)
		require.Len(t, pgi.Response.PersonGroupInfos, 1)
		require.Equal(t, "g", *pgi.Response.PersonGroupInfos[0].GroupId)

		// A person registered natively (a name Tencent would refuse) is listed and deleted by
		// the Tencent surface.
		status, body := native(t, env, http.MethodPost, "/v1/persons", `{"person_id":"n-1","name":"Li Lei","group_ids":["g"]}`)
		require.Equal(t, http.StatusCreated, status, body)
		list := iai.NewGetPersonListRequest()
		list.GroupId = str("g")
		pl, err := c.GetPersonList(list)
		require.NoError(t, err)
		names := map[string]string{}
		for _, pi := range pl.Response.PersonInfos {
			names[*pi.PersonId] = *pi.PersonName
		}
		require.Equal(t, map[string]string{"t-3": "李雷", "t-4": "李雷", "n-1": "Li Lei"}, names)
		dp := iai.NewDeletePersonRequest()
		dp.PersonId = str("n-1")
		_, err = c.DeletePerson(dp)
		require.NoError(t, err)
		status, _ = native(t, env, http.MethodGet, "/v1/persons/n-1", "")
		require.Equal(t, http.StatusNotFound, status)
		status, _ = native(t, env, http.MethodPost, "/sophon/v2/face/getidentity", `{"identity_id":"n-1"}`)
		require.Equal(t, http.StatusBadRequest, status)
	})
}
