package tencent_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestErrorCodes makes the server answer each of Tencent's error codes that a request can cause
// (the signature, rate and deletion-state codes have tests of their own), through the SDK.
func TestErrorCodes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, tencentConfig(t, dialect))
		c := client(t, env)
		createGroup(t, c, "staff")
		createGroup(t, c, "vip")
		createPerson(t, c, "p-1", "staff", 1)

		groupInfo := func(id string) error {
			req := iai.NewGetGroupInfoRequest()
			req.GroupId = str(id)
			_, err := c.GetGroupInfo(req)
			return err
		}
		newGroup := func(id, name, tag string) error {
			req := iai.NewCreateGroupRequest()
			req.GroupId, req.GroupName, req.Tag = str(id), str(name), str(tag)
			_, err := c.CreateGroup(req)
			return err
		}
		newPerson := func(id, name, group, image string) error {
			req := createPersonReq(id, group, image)
			req.PersonName = str(name)
			_, err := c.CreatePerson(req)
			return err
		}
		baseInfo := func(id string) error {
			req := iai.NewGetPersonBaseInfoRequest()
			req.PersonId = str(id)
			_, err := c.GetPersonBaseInfo(req)
			return err
		}
		addFaces := func(id string, images ...string) error {
			req := iai.NewCreateFaceRequest()
			req.PersonId, req.Images = str(id), strs(images...)
			_, err := c.CreateFace(req)
			return err
		}
		copyTo := func(id string, groups ...string) error {
			req := iai.NewCopyPersonRequest()
			req.PersonId, req.GroupIds = str(id), strs(groups...)
			_, err := c.CopyPerson(req)
			return err
		}
		img := photo(t, 9)
		many := make([]string, 101)
		for i := range many {
			many[i] = fmt.Sprintf("g%d", i)
		}

		for _, tc := range []struct {
			code string
			call func() error
		}{
			{"InvalidParameterValue.PersonIdNotExist", func() error { return baseInfo("nobody") }},
			{"InvalidParameterValue.GroupIdNotExist", func() error { return groupInfo("nowhere") }},
			{"InvalidParameterValue.GroupIdNotExist", func() error { return newPerson("p-9", "名", "nowhere", img) }},
			{"InvalidParameterValue.PersonIdAlreadyExist", func() error { return newPerson("p-1", "名", "staff", img) }},
			{"InvalidParameterValue.GroupIdAlreadyExist", func() error { return newGroup("staff", "Staff", "") }},
			{"InvalidParameterValue.PersonIdIllegal", func() error { return baseInfo("p.1") }},
			{"InvalidParameterValue.PersonIdTooLong", func() error { return baseInfo(strings.Repeat("p", 65)) }},
			{"InvalidParameterValue.GroupIdIllegal", func() error { return groupInfo("g 1") }},
			{"InvalidParameterValue.GroupIdTooLong", func() error { return groupInfo(strings.Repeat("g", 65)) }},
			{"InvalidParameterValue.PersonNameIllegal", func() error { return newPerson("p-9", "Li Lei", "staff", img) }},
			{"InvalidParameterValue.PersonNameTooLong", func() error { return newPerson("p-9", strings.Repeat("名", 61), "staff", img) }},
			{"InvalidParameterValue.GroupNameIllegal", func() error { return newGroup("g-9", "Staff!", "") }},
			{"InvalidParameterValue.GroupNameTooLong", func() error { return newGroup("g-9", strings.Repeat("n", 61), "") }},
			{"InvalidParameterValue.GroupTagIllegal", func() error { return newGroup("g-9", "n", "a tag") }},
			{"InvalidParameterValue.GroupTagTooLong", func() error { return newGroup("g-9", "n", strings.Repeat("t", 41)) }},
			{"MissingParameter.ErrorParameterEmpty", func() error {
				req := iai.NewCreateGroupRequest()
				req.GroupId = str("g-9")
				_, err := c.CreateGroup(req)
				return err
			}},
			{"InvalidParameterValue.PersonGenderIllegal", func() error {
				req := createPersonReq("p-9", "staff", img)
				req.Gender = new(int64)
				*req.Gender = 3
				_, err := c.CreatePerson(req)
				return err
			}},
			{"InvalidParameterValue.ImageEmpty", func() error { return newPerson("p-9", "名", "staff", "") }},
			{"InvalidParameterValue.ImageEmpty", func() error { return addFaces("p-1") }},
			{"FailedOperation.ImageDecodeFailed", func() error { return newPerson("p-9", "名", "staff", "bm90IGFuIGltYWdl") }},
			{"FailedOperation.ImageSizeExceed", func() error { return newPerson("p-9", "名", "staff", strings.Repeat("A", 5<<20+4)) }},
			{"UnsupportedOperation", func() error {
				req := createPersonReq("p-9", "staff", "")
				req.Image, req.Url = nil, str("http://127.0.0.1:1/face.jpg")
				_, err := c.CreatePerson(req)
				return err
			}},
			{"InvalidParameterValue.UploadFaceNumExceed", func() error { return addFaces("p-1", img, img, img, img, img) }},
			{"InvalidParameterValue.PersonFaceNumExceed", func() error {
				require.NoError(t, addFaces("p-1", photo(t, 2), photo(t, 3), photo(t, 4), photo(t, 5)))
				return addFaces("p-1", photo(t, 6)) // a sixth face
			}},
			{"InvalidParameterValue.DeleteFaceNumExceed", func() error {
				createPerson(t, c, "p-2", "staff", 7)
				base := iai.NewGetPersonBaseInfoRequest()
				base.PersonId = str("p-2")
				bi, err := c.GetPersonBaseInfo(base)
				require.NoError(t, err)
				req := iai.NewDeleteFaceRequest()
				req.PersonId, req.FaceIds = str("p-2"), bi.Response.FaceIds
				_, err = c.DeleteFace(req)
				return err
			}},
			{"InvalidParameterValue.GroupNumPerPersonExceed", func() error { return copyTo("p-1", many...) }},
			{"FailedOperation.GroupPersonMapExist", func() error { return copyTo("p-1", "vip", "staff") }},
			{"FailedOperation.GroupPersonMapNotExist", func() error {
				req := iai.NewDeletePersonFromGroupRequest()
				req.PersonId, req.GroupId = str("p-1"), str("vip")
				_, err := c.DeletePersonFromGroup(req)
				return err
			}},
			{"InvalidParameter.InvalidParameter", func() error { return copyTo("p-1", "vip", "vip") }},
			{"InvalidParameterValue.LimitExceed", func() error {
				req := iai.NewGetGroupListRequest()
				req.Limit = u64(1001)
				_, err := c.GetGroupList(req)
				return err
			}},
			{"InvalidParameterValue.LimitExceed", func() error {
				req := iai.NewGetPersonGroupInfoRequest()
				req.PersonId, req.Limit = str("p-1"), u64(101)
				_, err := c.GetPersonGroupInfo(req)
				return err
			}},
			{"InvalidAction", func() error {
				req := iai.NewSearchFacesRequest()
				req.GroupIds, req.Image = strs("staff"), str(img)
				_, err := c.SearchFaces(req)
				return err
			}},
		} {
			requireCode(t, tc.call(), tc.code)
		}
		// A refused call changed nothing.
		require.Equal(t, "InvalidParameterValue.PersonIdNotExist", errCode(baseInfo("p-9")))
		list := iai.NewGetPersonListRequest()
		list.GroupId = str("vip")
		pl, err := c.GetPersonList(list)
		require.NoError(t, err)
		require.Empty(t, pl.Response.PersonInfos, "CopyPerson refused as a whole")

		// An outage or a bug is InternalError, still with HTTP 200 for the SDK to read.
		if dialect == "sqlite" {
			require.NoError(t, env.Svc.DBs.ReadModel.Close())
			requireCode(t, groupInfo("staff"), "InternalError")
		}
	})
}
