package tencent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// seedMembers registers n persons m-0000… into group (every tenth also into also) through the
// application layer, several at once: the seeding is not what is tested.
func seedMembers(t testing.TB, env *testenv.Env, n int, group, also string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				groups := []string{group}
				if i%10 == 0 {
					groups = append(groups, also)
				}
				_, err := env.Svc.App.CreatePerson(context.Background(), app.Caller{Actor: "test"},
					app.CreatePersonInput{PersonID: fmt.Sprintf("m-%04d", i), Name: "成员", GroupIDs: groups})
				errs <- err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// groupSize is the members of the group the deletion tests delete: big enough that its deletion
// takes measurable time, bigger under ERASURE_SOAK.
func groupSize() int {
	if os.Getenv("ERASURE_SOAK") != "" {
		return 2000
	}
	return 300
}

// TestDeleteGroup deletes a large group through the SDK: DeleteGroup answers at once with the
// group deleting, every action naming the group answers GroupInDeletedState and every action on
// one of its persons being deleted ConflictOperation until the saga is done; then the members
// with no other group are gone, the others only left the group, and the group is gone.
func TestDeleteGroup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		g := newGate()
		env := testenv.Start(t, tencentConfig(t, dialect), g.withTarget())
		t.Cleanup(g.release)
		c := client(t, env)
		createGroup(t, c, "big")
		createGroup(t, c, "other")
		n := groupSize()
		seedMembers(t, env, n, "big", "other")
		createPerson(t, c, "solo", "big", 1)

		dg := iai.NewDeleteGroupRequest()
		dg.GroupId = str("big")
		start := time.Now()
		_, err := c.DeleteGroup(dg)
		require.NoError(t, err)
		answered := time.Since(start)

		// Deleting: every action naming the group is refused.
		info := iai.NewGetGroupInfoRequest()
		info.GroupId = str("big")
		_, err = c.GetGroupInfo(info)
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		list := iai.NewGetPersonListRequest()
		list.GroupId = str("big")
		_, err = c.GetPersonList(list)
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		_, err = c.CreatePerson(createPersonReq("late", "big", photo(t, 2)))
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		createPerson(t, c, "outsider", "other", 3)
		cp := iai.NewCopyPersonRequest()
		cp.PersonId, cp.GroupIds = str("outsider"), strs("big")
		_, err = c.CopyPerson(cp)
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		dpg := iai.NewDeletePersonFromGroupRequest()
		dpg.PersonId, dpg.GroupId = str("m-0001"), str("big")
		_, err = c.DeletePersonFromGroup(dpg)
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		_, err = c.DeleteGroup(dg)
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		_, err = c.CreateGroup(func() *iai.CreateGroupRequest {
			req := iai.NewCreateGroupRequest()
			req.GroupId, req.GroupName = str("big"), str("again")
			return req
		}())
		requireCode(t, err, "FailedOperation.GroupInDeletedState")
		gl, err := c.GetGroupList(iai.NewGetGroupListRequest())
		require.NoError(t, err)
		require.Len(t, gl.Response.GroupInfos, 1, "a deleting group is not listed")
		status, body := native(t, env, http.MethodGet, "/v1/groups/big", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "deleting", body["state"])

		// Its persons are being deleted: any other operation on one of them conflicts.
		// solo sorts last: its request comes after 2,000 others (the whole deletion has taken up
		// to 38 s under -race and CI load; a 30 s wait here failed once).
		eventually(t, 90*time.Second, func() bool {
			_, p := native(t, env, http.MethodGet, "/v1/persons/solo", "")
			return p["state"] == "deleting"
		}, "the member's deletion starts")
		base := iai.NewGetPersonBaseInfoRequest()
		base.PersonId = str("solo")
		_, err = c.GetPersonBaseInfo(base)
		requireCode(t, err, "FailedOperation.ConflictOperation")
		cf := iai.NewCreateFaceRequest()
		cf.PersonId, cf.Images = str("solo"), strs(photo(t, 4))
		_, err = c.CreateFace(cf)
		requireCode(t, err, "FailedOperation.ConflictOperation")
		_, err = c.CreatePerson(createPersonReq("solo", "other", photo(t, 5)))
		requireCode(t, err, "FailedOperation.ConflictOperation")
		cp.PersonId, cp.GroupIds = str("solo"), strs("other")
		_, err = c.CopyPerson(cp)
		requireCode(t, err, "FailedOperation.ConflictOperation")

		g.release()
		eventually(t, 2*time.Minute, func() bool {
			_, err := c.GetGroupInfo(info)
			return errCode(err) == "InvalidParameterValue.GroupIdNotExist"
		}, "the group is deleted")
		took := time.Since(start)
		t.Logf("%s: %d members; DeleteGroup answered in %s, the group was gone after %s", dialect, n+1, answered, took)
		status, _ = native(t, env, http.MethodGet, "/v1/groups/big", "")
		require.Equal(t, http.StatusNotFound, status)

		// Members with no other group are deleted; the others only left the group.
		for _, id := range []string{"solo", "m-0001", fmt.Sprintf("m-%04d", n-1)} {
			base.PersonId = str(id)
			_, err = c.GetPersonBaseInfo(base)
			requireCode(t, err, "InvalidParameterValue.PersonIdNotExist")
		}
		list.GroupId, list.Limit = str("other"), u64(1000)
		pl, err := c.GetPersonList(list)
		require.NoError(t, err)
		require.EqualValues(t, (n+9)/10+1, *pl.Response.PersonNum, "every tenth member and the outsider")
		pg := iai.NewGetPersonGroupInfoRequest()
		pg.PersonId = str("m-0010")
		pgi, err := c.GetPersonGroupInfo(pg)
		require.NoError(t, err)
		require.Len(t, pgi.Response.PersonGroupInfos, 1)
		require.Equal(t, "other", *pgi.Response.PersonGroupInfos[0].GroupId)

		// The id is free again.
		createGroup(t, c, "big")
		list.GroupId = str("big")
		pl, err = c.GetPersonList(list)
		require.NoError(t, err)
		require.Empty(t, pl.Response.PersonInfos, "no membership outlived the deleted group")
	})
}

// TestConcurrentOperationsOnADeletingPerson: while DeletePerson runs, other operations on the
// person conflict, and a second DeletePerson joins the first and shares its outcome.
func TestConcurrentOperationsOnADeletingPerson(t *testing.T) {
	g := newGate()
	env := testenv.Start(t, tencentConfig(t, "sqlite"), g.withTarget())
	t.Cleanup(g.release)
	c := client(t, env)
	createGroup(t, c, "staff")
	createGroup(t, c, "vip")
	createPerson(t, c, "p-1", "staff", 1)

	results := make(chan error, 2)
	del := func() {
		req := iai.NewDeletePersonRequest()
		req.PersonId = str("p-1")
		_, err := c.DeletePerson(req)
		results <- err
	}
	go del()
	<-g.hit
	eventually(t, 10*time.Second, func() bool {
		_, p := native(t, env, http.MethodGet, "/v1/persons/p-1", "")
		return p["state"] == "deleting"
	}, "the deletion shows")
	go del()
	eventually(t, 10*time.Second, func() bool {
		var joined int
		err := env.Svc.DBs.ReadModel.Get(&joined, `SELECT COUNT(*) FROM deletion_items WHERE person_id = 'p-1' AND saga_id <> ''`)
		return err == nil && joined == 2
	}, "the second deletion joins the first")

	cf := iai.NewCreateFaceRequest()
	cf.PersonId, cf.Images = str("p-1"), strs(photo(t, 2))
	_, err := c.CreateFace(cf)
	requireCode(t, err, "FailedOperation.ConflictOperation")
	df := iai.NewDeleteFaceRequest()
	df.PersonId, df.FaceIds = str("p-1"), strs("f")
	_, err = c.DeleteFace(df)
	requireCode(t, err, "FailedOperation.ConflictOperation")
	cp := iai.NewCopyPersonRequest()
	cp.PersonId, cp.GroupIds = str("p-1"), strs("vip")
	_, err = c.CopyPerson(cp)
	requireCode(t, err, "FailedOperation.ConflictOperation")
	pg := iai.NewGetPersonGroupInfoRequest()
	pg.PersonId = str("p-1")
	_, err = c.GetPersonGroupInfo(pg)
	requireCode(t, err, "FailedOperation.ConflictOperation")
	select {
	case err := <-results:
		t.Fatalf("DeletePerson answered before the deletion was done: %v", err)
	default:
	}

	g.release()
	require.NoError(t, <-results)
	require.NoError(t, <-results)
	_, err = c.GetPersonGroupInfo(pg)
	requireCode(t, err, "InvalidParameterValue.PersonIdNotExist")
}

// TestNativeGroupDeletion deletes a group through the native API: 202 with a deletion whose items
// are the members, the group deleting meanwhile, 404 after.
func TestNativeGroupDeletion(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		g := newGate()
		env := testenv.Start(t, testenv.Config(t, dialect), g.withTarget())
		t.Cleanup(g.release)
		for _, id := range []string{"g", "h"} {
			status, body := native(t, env, http.MethodPost, "/v1/groups", fmt.Sprintf(`{"group_id":%q,"name":"Group %s"}`, id, id))
			require.Equal(t, http.StatusCreated, status, body)
		}
		for i, groups := range []string{`["g"]`, `["g","h"]`, `["g"]`, `["h"]`} {
			status, body := native(t, env, http.MethodPost, "/v1/persons", fmt.Sprintf(`{"person_id":"p%d","name":"Li Lei","group_ids":%s}`, i, groups))
			require.Equal(t, http.StatusCreated, status, body)
		}

		status, body := native(t, env, http.MethodDelete, "/v1/groups/g", "")
		require.Equal(t, http.StatusAccepted, status, body)
		id := body["deletion_id"].(string)
		status, d := native(t, env, http.MethodGet, "/v1/deletions/"+id, "")
		require.Equal(t, http.StatusOK, status, d)
		require.Equal(t, 3.0, d["total"], "the members are the items")
		status, items := native(t, env, http.MethodGet, "/v1/deletions/"+id+"/items", "")
		require.Equal(t, http.StatusOK, status)
		var ids []string
		for _, it := range items["items"].([]any) {
			ids = append(ids, it.(map[string]any)["person_id"].(string))
		}
		require.ElementsMatch(t, []string{"p0", "p1", "p2"}, ids)
		status, grp := native(t, env, http.MethodGet, "/v1/groups/g", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "deleting", grp["state"])
		status, body = native(t, env, http.MethodDelete, "/v1/groups/g", "")
		require.Equal(t, http.StatusConflict, status)
		require.Equal(t, "GROUP_DELETING", body["error"].(map[string]any)["code"])

		g.release()
		eventually(t, time.Minute, func() bool {
			_, d := native(t, env, http.MethodGet, "/v1/deletions/"+id, "")
			return d["state"] == "completed"
		}, "the deletion completes")
		_, d = native(t, env, http.MethodGet, "/v1/deletions/"+id, "")
		require.Equal(t, 3.0, d["deleted"])
		eventually(t, 30*time.Second, func() bool {
			status, _ := native(t, env, http.MethodGet, "/v1/groups/g", "")
			return status == http.StatusNotFound
		}, "the group is gone")
		for _, p := range []string{"p0", "p2"} {
			status, _ := native(t, env, http.MethodGet, "/v1/persons/"+p, "")
			require.Equal(t, http.StatusNotFound, status, p)
		}
		status, p1 := native(t, env, http.MethodGet, "/v1/persons/p1", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, []any{"h"}, p1["group_ids"])
		status, body = native(t, env, http.MethodDelete, "/v1/groups/g", "")
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, "GROUP_NOT_FOUND", body["error"].(map[string]any)["code"])
	})
}
