package targets

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	iai "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/iai/v20180301"
	"golang.org/x/time/rate"

	"github.com/erasure-dev/erasure/sagas"
)

// tencentTarget deletes persons from a Tencent Cloud IAI face library with the official SDK:
// DeletePerson, or DeletePersonFromGroup when a group is configured (IAI deletes the person
// with its last group). The account allows 50 requests a second per action; a replica keeps
// to its share (rate / replicas), and RequestLimitExceeded is retried like an outage.
type tencentTarget struct {
	spec    Spec
	client  *iai.Client
	limiter *rate.Limiter
}

func newTencent(s Spec, id, key string) (*tencentTarget, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", s.Name, err)
	}
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = u.Host
	cpf.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	cpf.HttpProfile.ReqTimeout = max(1, int(s.Timeout.Seconds()))
	c, err := iai.NewClient(common.NewCredential(id, key), s.Region, cpf)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", s.Name, err)
	}
	share := s.Rate / float64(s.Replicas)
	return &tencentTarget{spec: s, client: c, limiter: rate.NewLimiter(rate.Limit(share), max(1, int(share)))}, nil
}

func (t *tencentTarget) Name() string { return t.spec.Name }

func (t *tencentTarget) DeletePersons(ctx context.Context, ids []string) map[string]error {
	errs := map[string]error{}
	for _, id := range ids {
		if err := t.limiter.Wait(ctx); err != nil {
			errs[id] = err
			continue
		}
		if err := t.delete(id); err != nil {
			errs[id] = err
		}
	}
	return errs
}

func (t *tencentTarget) delete(id string) error {
	var err error
	if t.spec.GroupID != "" {
		req := iai.NewDeletePersonFromGroupRequest()
		req.PersonId, req.GroupId = common.StringPtr(id), common.StringPtr(t.spec.GroupID)
		_, err = t.client.DeletePersonFromGroup(req)
	} else {
		req := iai.NewDeletePersonRequest()
		req.PersonId = common.StringPtr(id)
		_, err = t.client.DeletePerson(req)
	}
	if err == nil {
		return nil
	}
	var se *sdkerrors.TencentCloudSDKError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", t.spec.Name, err) // the network: retried
	}
	switch {
	case se.Code == "InvalidParameterValue.PersonIdNotExist":
		return nil // already gone
	case t.spec.GroupID != "" && (se.Code == "FailedOperation.GroupPersonMapNotExist" ||
		se.Code == "InvalidParameterValue.GroupIdNotExist"):
		return nil // not (or no longer) in the group
	case se.Code == "RequestLimitExceeded", se.Code == "FailedOperation.ConflictOperation",
		se.Code == "FailedOperation.GroupInDeletedState", se.Code == "FailedOperation.ServerError",
		se.Code == "InternalError", strings.HasPrefix(se.Code, "InternalError."),
		se.Code == "FailedOperation.RequestTimeout", se.Code == "ResourceUnavailable":
		return fmt.Errorf("%s: %s: %s", t.spec.Name, se.Code, se.Message)
	}
	// AuthFailure.*, a deleting group, a refused parameter: retrying cannot change them.
	return fmt.Errorf("%s: %w: %s: %s", t.spec.Name, sagas.ErrPermanent, se.Code, se.Message)
}
