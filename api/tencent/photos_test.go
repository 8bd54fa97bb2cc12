package tencent_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// Tencent's rule on an image's dimensions, checked from its header before any pixel is decoded:
// a JPEG's long side at most 4000 px, other formats 2000 px (FailedOperation.ImageResolutionExceed);
// no minimum, as there is no face detector. A refused image records nothing.
func TestImageResolution(t *testing.T) {
	env := testenv.Start(t, tencentConfig(t, "sqlite"))
	c := client(t, env)
	createGroup(t, c, "staff")
	createPerson(t, c, "holder", "staff", 1)
	b64 := base64.StdEncoding.EncodeToString
	for i, tc := range []struct {
		name          string
		image         []byte
		width, height uint64 // 0: refused
	}{
		{"a 30000x30000 PNG header (decompression bomb)", testenv.PNGDeclaring(t, 30000, 30000), 0, 0},
		{"PNG 2001x10", testenv.PNG(t, 2001, 10, 1), 0, 0},
		{"PNG 10x2001", testenv.PNGDeclaring(t, 10, 2001), 0, 0},
		{"JPEG 4001x10", testenv.JPEG(t, 4001, 10, 1), 0, 0},
		{"JPEG 8x4001", testenv.JPEG(t, 8, 4001, 1), 0, 0},
		{"PNG 2000x10", testenv.PNG(t, 2000, 10, 2), 2000, 10},
		{"JPEG 4000x3000", testenv.JPEG(t, 4000, 3000, 2), 4000, 3000},
		{"PNG 1x1", testenv.PNG(t, 1, 1, 3), 1, 1},
		{"JPEG 1x1", testenv.JPEG(t, 1, 1, 3), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("p-%d", i)
			before := env.LastSeq(t)
			created, err := c.CreatePerson(createPersonReq(id, "staff", b64(tc.image)))
			if tc.width != 0 {
				require.NoError(t, err)
				require.Equal(t, tc.width, *created.Response.FaceRect.Width)
				require.Equal(t, tc.height, *created.Response.FaceRect.Height)
			} else {
				requireCode(t, err, "FailedOperation.ImageResolutionExceed")
				var sdkErr *sdkerrors.TencentCloudSDKError
				require.True(t, errors.As(err, &sdkErr))
				env.RequireNothingRecorded(t, before, sdkErr.RequestId)
				req := iai.NewGetPersonBaseInfoRequest()
				req.PersonId = str(id)
				_, err = c.GetPersonBaseInfo(req)
				requireCode(t, err, "InvalidParameterValue.PersonIdNotExist")
			}

			// CreateFace: an image over the limit fails the call, as an oversized one does.
			before = env.LastSeq(t)
			req := iai.NewCreateFaceRequest()
			req.PersonId, req.Images = str("holder"), strs(photo(t, 100+i), b64(tc.image))
			added, err := c.CreateFace(req)
			if tc.width != 0 {
				require.NoError(t, err)
				require.EqualValues(t, 2, *added.Response.SucFaceNum)
				del := iai.NewDeleteFaceRequest()
				del.PersonId, del.FaceIds = str("holder"), added.Response.SucFaceIds
				_, err = c.DeleteFace(del)
				require.NoError(t, err)
				return
			}
			requireCode(t, err, "FailedOperation.ImageResolutionExceed")
			var sdkErr *sdkerrors.TencentCloudSDKError
			require.True(t, errors.As(err, &sdkErr))
			env.RequireNothingRecorded(t, before, sdkErr.RequestId)
		})
	}
}
