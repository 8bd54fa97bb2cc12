package tencent

import (
	"context"
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// Errors the surface raises itself: the protocol's, and the field-specific ones that the
// application's shared sentinels cannot tell apart (an illegal ID is a PersonId or a GroupId).
var (
	errSecretIDNotFound  = errors.New("the SecretId is not known")
	errSignatureFailure  = errors.New("the signature does not match")
	errSignatureExpire   = errors.New("the signature has expired")
	errInvalidAction     = errors.New("no such action")
	errNoSuchVersion     = errors.New("no such version")
	errRateLimited       = errors.New("the action's request rate limit is exceeded")
	errUnsupported       = errors.New("not supported")
	errMissing           = errors.New("a required parameter is empty")
	errInvalid           = errors.New("invalid parameter")
	errPersonIDIllegal   = errors.New("PersonId has characters outside [A-Za-z0-9-%@#&_]")
	errPersonIDTooLong   = errors.New("PersonId is longer than 64 characters")
	errGroupIDIllegal    = errors.New("GroupId has characters outside [A-Za-z0-9-%@#&_]")
	errGroupIDTooLong    = errors.New("GroupId is longer than 64 characters")
	errPersonNameIllegal = errors.New("PersonName may hold letters (Chinese included), digits, - and _ only")
	errPersonNameTooLong = errors.New("PersonName is longer than 60 characters")
	errGroupNameIllegal  = errors.New("GroupName may hold letters (Chinese included), digits, - and _ only")
	errGroupNameTooLong  = errors.New("GroupName is longer than 60 characters")
	errGroupTagIllegal   = errors.New("Tag may hold letters (Chinese included), digits, - and _ only")
	errGroupTagTooLong   = errors.New("Tag is longer than 40 characters")
	errGenderIllegal     = errors.New("Gender must be 0 (not given), 1 (male) or 2 (female)")
	errLimitExceed       = errors.New("Limit is over the action's maximum")
	errUploadFaceNum     = errors.New("at most 4 faces can be uploaded at once")
	errDeleteFaceNum     = errors.New("a person keeps at least one face")
)

// Errors of the signature ledger and the replay rules (tencent.go, replay.go).
var (
	errUnsignedPayload = fmt.Errorf("%w: X-TC-Content-SHA256: UNSIGNED-PAYLOAD leaves the body out of the signature, so it is refused (the operator may accept it with ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD=true)", errSignatureFailure)
	// errSignatureReused: a captured signature sent with another action, version, host, path or
	// body than the request it was first accepted for.
	errSignatureReused = fmt.Errorf("%w: the signature was already used for another request; sign each request anew", errSignatureFailure)
	// errSignedBeforeDeletion: a create signed before the deletion of what it names, so possibly
	// a replay that would undo the deletion.
	errSignedBeforeDeletion = fmt.Errorf("%w: the request was signed before", errSignatureExpire)
	// errLedger: the signature ledger could not be reached, so no signature can be told fresh;
	// nothing runs.
	errLedger = errors.New("the signature ledger cannot be reached; the request was not run, retry it")
)

// errorCode is one row of the Tencent surface's error table.
type errorCode struct {
	err  error
	code string
}

func (c errorCode) Sentinel() error { return c.err }

// errorTable maps every error the Tencent surface can answer to Tencent's code. The first match
// (errors.Is) wins; anything else is InternalError. Every answer is HTTP 200, as Tencent Cloud
// answers: its SDK treats any other status as a transport failure and would hide the code.
var errorTable = []errorCode{
	{errLedger, "InternalError"},
	{errSecretIDNotFound, "AuthFailure.SecretIdNotFound"},
	{errSignatureFailure, "AuthFailure.SignatureFailure"},
	{errSignatureExpire, "AuthFailure.SignatureExpire"},
	{errInvalidAction, "InvalidAction"},
	{errNoSuchVersion, "NoSuchVersion"},
	{errRateLimited, "RequestLimitExceeded"},
	{httpx.ErrRateLimited, "RequestLimitExceeded"},
	{httpx.ErrTooManyLargeBodies, "RequestLimitExceeded"},
	{httpx.ErrURLTooLong, "RequestSizeLimitExceeded"},
	{httpx.ErrHeadersTooLarge, "RequestSizeLimitExceeded"},
	{httpx.ErrUnauthenticated, "AuthFailure.UnauthorizedOperation"},
	{httpx.ErrHostNotAllowed, "AuthFailure.UnauthorizedOperation"},
	{httpx.ErrCrossSite, "AuthFailure.UnauthorizedOperation"},
	{httpx.ErrSlowBody, "FailedOperation.RequestTimeout"},
	{errUnsupported, "UnsupportedOperation"},
	{errMissing, "MissingParameter.ErrorParameterEmpty"},
	{errPersonIDIllegal, "InvalidParameterValue.PersonIdIllegal"},
	{errPersonIDTooLong, "InvalidParameterValue.PersonIdTooLong"},
	{errGroupIDIllegal, "InvalidParameterValue.GroupIdIllegal"},
	{errGroupIDTooLong, "InvalidParameterValue.GroupIdTooLong"},
	{errPersonNameIllegal, "InvalidParameterValue.PersonNameIllegal"},
	{errPersonNameTooLong, "InvalidParameterValue.PersonNameTooLong"},
	{errGroupNameIllegal, "InvalidParameterValue.GroupNameIllegal"},
	{errGroupNameTooLong, "InvalidParameterValue.GroupNameTooLong"},
	{errGroupTagIllegal, "InvalidParameterValue.GroupTagIllegal"},
	{errGroupTagTooLong, "InvalidParameterValue.GroupTagTooLong"},
	{errGenderIllegal, "InvalidParameterValue.PersonGenderIllegal"},
	{errLimitExceed, "InvalidParameterValue.LimitExceed"},
	{errUploadFaceNum, "InvalidParameterValue.UploadFaceNumExceed"},
	{errDeleteFaceNum, "InvalidParameterValue.DeleteFaceNumExceed"},
	{errInvalid, "InvalidParameter.InvalidParameter"},
	{httpx.ErrBodyTooLarge, "InvalidParameter.InvalidParameter"},
	{app.ErrImageEmpty, "InvalidParameterValue.ImageEmpty"},
	{app.ErrImageTooLarge, "FailedOperation.ImageSizeExceed"},
	{app.ErrImageUndecodable, "FailedOperation.ImageDecodeFailed"},
	{app.ErrImageResolutionExceeded, "FailedOperation.ImageResolutionExceed"},
	{domain.ErrTooManyFaces, "InvalidParameterValue.PersonFaceNumExceed"},
	{domain.ErrTooManyGroups, "InvalidParameterValue.GroupNumPerPersonExceed"},
	{domain.ErrPersonExists, "InvalidParameterValue.PersonIdAlreadyExist"},
	{domain.ErrGroupExists, "InvalidParameterValue.GroupIdAlreadyExist"},
	{domain.ErrGroupDeleting, "FailedOperation.GroupInDeletedState"},
	{domain.ErrPersonDeleting, "FailedOperation.ConflictOperation"},
	{app.ErrBusy, "FailedOperation.ConflictOperation"},
	{domain.ErrAlreadyInGroup, "FailedOperation.GroupPersonMapExist"},
	{domain.ErrNotInGroup, "FailedOperation.GroupPersonMapNotExist"},
	{domain.ErrPersonNotFound, "InvalidParameterValue.PersonIdNotExist"},
	{domain.ErrGroupNotFound, "InvalidParameterValue.GroupIdNotExist"},
	{app.ErrDeletionFailed, "FailedOperation.ServerError"},
	{app.ErrUnavailable, "ResourceUnavailable"},
	{context.DeadlineExceeded, "FailedOperation.RequestTimeout"},
	// Whatever the surface did not check itself (it checks every field it passes on).
	{domain.ErrIDEmpty, "MissingParameter.ErrorParameterEmpty"},
	{domain.ErrNameEmpty, "MissingParameter.ErrorParameterEmpty"},
	{domain.ErrIDIllegal, "InvalidParameter.InvalidParameter"},
	{domain.ErrIDTooLong, "InvalidParameter.InvalidParameter"},
	{domain.ErrDuplicateID, "InvalidParameter.InvalidParameter"},
	{domain.ErrNameIllegal, "InvalidParameter.InvalidParameter"},
	{domain.ErrNameTooLong, "InvalidParameter.InvalidParameter"},
	{app.ErrInvalidArgument, "InvalidParameter.InvalidParameter"},
}

// codeOf returns err's Tencent code and message, and whether the table knows it.
func codeOf(err error) (code, message string, known bool) {
	err = app.Unavailable(err)
	if row, ok := httpx.LookupError(errorTable, err); ok {
		return row.code, err.Error(), true
	}
	return "InternalError", "internal error", false
}

// fieldError turns the domain's verdict on an ID or a name into the field's own error.
func fieldError(field string, err error, illegal, tooLong error) error {
	switch {
	case errors.Is(err, domain.ErrIDEmpty), errors.Is(err, domain.ErrNameEmpty):
		return fmt.Errorf("%w: %s", errMissing, field)
	case errors.Is(err, domain.ErrIDTooLong), errors.Is(err, domain.ErrNameTooLong), errors.Is(err, domain.ErrTagTooLong):
		return tooLong
	default:
		return illegal
	}
}
