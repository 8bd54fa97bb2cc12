package tencent_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"
	v2020 "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20200303"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestEveryActionThroughTheSDK drives each action with the official SDK, unchanged but for its
// endpoint, and reads every effect back.
func TestEveryActionThroughTheSDK(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, tencentConfig(t, dialect))
		c := client(t, env)

		// Groups.
		for _, id := range []string{"staff", "visitors", "vip"} {
			createGroup(t, c, id)
		}
		req := iai.NewCreateGroupRequest()
		req.GroupId, req.GroupName, req.Tag = str("dorm-1"), str("宿舍_1"), str("楼A")
		created, err := c.CreateGroup(req)
		require.NoError(t, err)
		require.Equal(t, "3.0", *created.Response.FaceModelVersion)
		require.NotEmpty(t, *created.Response.RequestId)

		info := iai.NewGetGroupInfoRequest()
		info.GroupId = str("dorm-1")
		gi, err := c.GetGroupInfo(info)
		readDorm := time.Now()
		require.NoError(t, err)
		require.Equal(t, "dorm-1", *gi.Response.GroupId)
		require.Equal(t, "宿舍_1", *gi.Response.GroupName)
		require.Equal(t, "楼A", *gi.Response.Tag)
		require.NotZero(t, *gi.Response.CreationTimestamp)

		list := iai.NewGetGroupListRequest()
		gl, err := c.GetGroupList(list)
		require.NoError(t, err)
		require.EqualValues(t, 4, *gl.Response.GroupNum)
		require.Len(t, gl.Response.GroupInfos, 4)
		list.Offset, list.Limit = u64(1), u64(2)
		gl, err = c.GetGroupList(list)
		require.NoError(t, err)
		require.EqualValues(t, 4, *gl.Response.GroupNum)
		require.Len(t, gl.Response.GroupInfos, 2)
		require.Equal(t, "visitors", *gl.Response.GroupInfos[0].GroupId, "in creation order")

		// Persons and faces.
		pr := createPersonReq("p-1", "staff", photo(t, 1))
		pr.Gender = new(int64)
		*pr.Gender = 2
		person, err := c.CreatePerson(pr)
		require.NoError(t, err)
		firstFace := *person.Response.FaceId
		require.NotEmpty(t, firstFace)
		require.EqualValues(t, 8, *person.Response.FaceRect.Width)
		require.EqualValues(t, 6, *person.Response.FaceRect.Height)

		base := iai.NewGetPersonBaseInfoRequest()
		base.PersonId = str("p-1")
		bi, err := c.GetPersonBaseInfo(base)
		require.NoError(t, err)
		require.Equal(t, "李雷", *bi.Response.PersonName)
		require.EqualValues(t, 2, *bi.Response.Gender)
		require.Equal(t, []string{firstFace}, vals(bi.Response.FaceIds))

		faces := iai.NewCreateFaceRequest()
		faces.PersonId = str("p-1")
		faces.Images = strs(photo(t, 2), "bm90IGFuIGltYWdl", photo(t, 3)) // the second is not an image
		cf, err := c.CreateFace(faces)
		require.NoError(t, err)
		require.EqualValues(t, 2, *cf.Response.SucFaceNum)
		require.Len(t, cf.Response.SucFaceIds, 2)
		require.Equal(t, []int64{0, -1102, 0}, []int64{*cf.Response.RetCode[0], *cf.Response.RetCode[1], *cf.Response.RetCode[2]})
		require.Equal(t, []uint64{0, 2}, []uint64{*cf.Response.SucIndexes[0], *cf.Response.SucIndexes[1]})
		bi, err = c.GetPersonBaseInfo(base)
		require.NoError(t, err)
		require.Len(t, bi.Response.FaceIds, 3)

		df := iai.NewDeleteFaceRequest()
		df.PersonId, df.FaceIds = str("p-1"), []*string{cf.Response.SucFaceIds[0], str("no-such-face")}
		dr, err := c.DeleteFace(df)
		require.NoError(t, err)
		require.EqualValues(t, 1, *dr.Response.SucDeletedNum)
		require.Equal(t, []string{*cf.Response.SucFaceIds[0]}, vals(dr.Response.SucFaceIds))
		bi, err = c.GetPersonBaseInfo(base)
		require.NoError(t, err)
		require.Equal(t, []string{firstFace, *cf.Response.SucFaceIds[1]}, vals(bi.Response.FaceIds))

		copyReq := iai.NewCopyPersonRequest()
		copyReq.PersonId, copyReq.GroupIds = str("p-1"), strs("visitors", "vip")
		cp, err := c.CopyPerson(copyReq)
		require.NoError(t, err)
		require.EqualValues(t, 2, *cp.Response.SucGroupNum)
		require.Equal(t, []string{"visitors", "vip"}, vals(cp.Response.SucGroupIds))

		pg := iai.NewGetPersonGroupInfoRequest()
		pg.PersonId = str("p-1")
		pgi, err := c.GetPersonGroupInfo(pg)
		require.NoError(t, err)
		require.EqualValues(t, 3, *pgi.Response.GroupNum)
		require.Len(t, pgi.Response.PersonGroupInfos, 3)
		pg.Offset, pg.Limit = u64(2), u64(5)
		pgi, err = c.GetPersonGroupInfo(pg)
		require.NoError(t, err)
		require.Len(t, pgi.Response.PersonGroupInfos, 1)
		require.Equal(t, "vip", *pgi.Response.PersonGroupInfos[0].GroupId)

		createPerson(t, c, "p-2", "staff", 4)
		pl := iai.NewGetPersonListRequest()
		pl.GroupId = str("staff")
		pls, err := c.GetPersonList(pl)
		require.NoError(t, err)
		require.EqualValues(t, 2, *pls.Response.PersonNum)
		require.EqualValues(t, 3, *pls.Response.FaceNum)
		require.Len(t, pls.Response.PersonInfos, 2)
		require.Equal(t, "p-1", *pls.Response.PersonInfos[0].PersonId)
		require.Equal(t, "李雷", *pls.Response.PersonInfos[0].PersonName)
		require.EqualValues(t, 2, *pls.Response.PersonInfos[0].Gender)
		require.Len(t, pls.Response.PersonInfos[0].FaceIds, 2)
		require.NotZero(t, *pls.Response.PersonInfos[0].CreationTimestamp)
		pl.Offset, pl.Limit = u64(1), u64(1)
		pls, err = c.GetPersonList(pl)
		require.NoError(t, err)
		require.Len(t, pls.Response.PersonInfos, 1)
		require.Equal(t, "p-2", *pls.Response.PersonInfos[0].PersonId)

		// DeletePersonFromGroup removes one membership while others remain; the last one
		// deletes the person.
		dpg := iai.NewDeletePersonFromGroupRequest()
		dpg.PersonId, dpg.GroupId = str("p-1"), str("visitors")
		_, err = c.DeletePersonFromGroup(dpg)
		require.NoError(t, err)
		pg.Offset, pg.Limit = nil, nil
		pgi, err = c.GetPersonGroupInfo(pg)
		require.NoError(t, err)
		require.EqualValues(t, 2, *pgi.Response.GroupNum)
		for _, g := range []string{"staff", "vip"} {
			dpg.GroupId = str(g)
			_, err = c.DeletePersonFromGroup(dpg)
			require.NoError(t, err)
		}
		_, err = c.GetPersonBaseInfo(base)
		requireCode(t, err, "InvalidParameterValue.PersonIdNotExist")
		status, _ := native(t, env, http.MethodGet, "/v1/persons/p-1", "")
		require.Equal(t, http.StatusNotFound, status, "the last group's removal deleted the person everywhere")

		// DeletePerson deletes everywhere at once.
		copyReq.PersonId = str("p-2")
		_, err = c.CopyPerson(copyReq)
		require.NoError(t, err)
		dp := iai.NewDeletePersonRequest()
		dp.PersonId = str("p-2")
		_, err = c.DeletePerson(dp)
		require.NoError(t, err)
		for _, g := range []string{"staff", "visitors", "vip"} {
			pl.GroupId, pl.Offset, pl.Limit = str(g), nil, nil
			pls, err = c.GetPersonList(pl)
			require.NoError(t, err)
			require.Empty(t, pls.Response.PersonInfos, "group %s", g)
		}

		// DeleteGroup of an empty group.
		dg := iai.NewDeleteGroupRequest()
		dg.GroupId = str("dorm-1")
		afterSecondOf(readDorm) // see afterSecondOf
		_, err = c.DeleteGroup(dg)
		require.NoError(t, err)
		eventually(t, 20*time.Second, func() bool {
			_, err := c.GetGroupInfo(info)
			return errCode(err) == "InvalidParameterValue.GroupIdNotExist"
		}, "the empty group is deleted")
	})
}

// TestGetFormAndVersion2020 uses the SDK's GET form (parameters flattened into the signed query)
// and the 2020-03-03 client.
func TestGetFormAndVersion2020(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	get := sdk(t, endpoint(env), secretID, secretKey, "GET")
	createGroup(t, get, "g-1")
	createGroup(t, get, "g-2")
	createPerson(t, get, "p-1", "g-1", 1)

	faces := iai.NewCreateFaceRequest()
	faces.PersonId, faces.Images = str("p-1"), strs(photo(t, 2))
	cf, err := get.CreateFace(faces)
	require.NoError(t, err)
	require.EqualValues(t, 1, *cf.Response.SucFaceNum)

	copyReq := iai.NewCopyPersonRequest()
	copyReq.PersonId, copyReq.GroupIds = str("p-1"), strs("g-2")
	_, err = get.CopyPerson(copyReq)
	require.NoError(t, err)

	list := iai.NewGetGroupListRequest()
	list.Offset, list.Limit = u64(1), u64(1)
	gl, err := get.GetGroupList(list)
	require.NoError(t, err)
	require.Len(t, gl.Response.GroupInfos, 1)
	require.Equal(t, "g-2", *gl.Response.GroupInfos[0].GroupId)

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = endpoint(env), "HTTP"
	c2020, err := v2020.NewClient(common.NewCredential(secretID, secretKey), "", cpf)
	require.NoError(t, err)
	pg := v2020.NewGetPersonGroupInfoRequest()
	pg.PersonId = str("p-1")
	pgi, err := c2020.GetPersonGroupInfo(pg)
	require.NoError(t, err)
	require.EqualValues(t, 2, *pgi.Response.GroupNum)
	read := time.Now()
	dp := v2020.NewDeletePersonRequest()
	dp.PersonId = str("p-1")
	afterSecondOf(read) // see afterSecondOf
	_, err = c2020.DeletePerson(dp)
	require.NoError(t, err)
	_, err = c2020.GetPersonGroupInfo(pg)
	requireCode(t, err, "InvalidParameterValue.PersonIdNotExist")
}
