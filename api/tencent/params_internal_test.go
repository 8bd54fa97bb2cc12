package tencent

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeQueryInvertsTheSDKFlattening reads the GET form as the SDK writes it.
func TestDecodeQueryInvertsTheSDKFlattening(t *testing.T) {
	var req struct {
		PersonID *string  `json:"PersonId"`
		Images   []string `json:"Images"`
		Limit    *uint64  `json:"Limit"`
		Gender   *int64   `json:"Gender"`
		Infos    []struct {
			Index *uint64 `json:"PersonExDescriptionIndex"`
			Text  string  `json:"PersonExDescription"`
		} `json:"PersonExDescriptionInfos"`
		Missing *string `json:"Missing"`
		Action  *string `json:"Action"`
	}
	q, err := url.ParseQuery("PersonId=p-1&Images.0=a&Images.1=b&Limit=20&Gender=2" +
		"&PersonExDescriptionInfos.0.PersonExDescriptionIndex=1&PersonExDescriptionInfos.0.PersonExDescription=x&Action=CreateFace")
	require.NoError(t, err)
	require.NoError(t, decodeQuery(q, &req))
	require.Equal(t, "p-1", *req.PersonID)
	require.Equal(t, []string{"a", "b"}, req.Images)
	require.EqualValues(t, 20, *req.Limit)
	require.EqualValues(t, 2, *req.Gender)
	require.Len(t, req.Infos, 1)
	require.EqualValues(t, 1, *req.Infos[0].Index)
	require.Equal(t, "x", req.Infos[0].Text)
	require.Nil(t, req.Missing)
	require.Nil(t, req.Action, "a common parameter is not the action's")

	q, _ = url.ParseQuery("Limit=ten")
	require.ErrorIs(t, decodeQuery(q, &req), errInvalid)
}
