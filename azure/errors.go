package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Errors callers test with errors.Is. Each returned error also says what
// the operator can do.
var (
	// ErrNotFound: the container, blob or snapshot does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotPageBlob: the disk is a block or append blob, or a managed
	// disk; only unmanaged page-blob disks (fixed VHD) are supported.
	ErrNotPageBlob = errors.New("not an unmanaged page-blob disk")
	// ErrBadFooter: the last 512 bytes are not a valid fixed-VHD footer
	// that matches the blob's length.
	ErrBadFooter = errors.New("bad VHD footer")
	// ErrLeased: the blob is leased by someone else (a running VM); writes
	// and deletes need the lease id or a broken lease.
	ErrLeased = errors.New("blob leased by another client")
	// ErrUnaligned: a page-blob write is not on 512-byte pages.
	ErrUnaligned = errors.New("not 512-byte aligned")
	// ErrOutOfRange: an access past the virtual disk (the footer is not
	// part of the disk).
	ErrOutOfRange = errors.New("past the end of the virtual disk")
	// ErrAccessDenied: the credentials were refused (401/403).
	ErrAccessDenied = errors.New("access denied")
)

// StorageError is a failed storage call: the operation, the object, a
// short reason and the service's status and code. Error() stays on one
// line; the SDK's full multi-line answer is kept in Err.
type StorageError struct {
	Op     string // "read", "upload pages", ...
	Object string // container/blob[@snapshot]
	Status int    // HTTP status, 0 for transport errors
	Code   string // storage error code, such as BlobNotFound
	Hint   string // what the operator can do
	Kind   error  // one of the Err* sentinels, or nil
	Err    error
}

func (e *StorageError) Error() string {
	msg := fmt.Sprintf("azure %s %s", e.Op, e.Object)
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	switch {
	case e.Status != 0 && e.Code != "":
		msg += fmt.Sprintf(" (HTTP %d %s)", e.Status, e.Code)
	case e.Status != 0:
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap exposes both the sentinel kind and the SDK error.
func (e *StorageError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// wrapErr turns an SDK error into a StorageError with a kind and hint.
func wrapErr(op, object string, err error) error {
	if err == nil {
		return nil
	}
	var se *StorageError
	if errors.As(err, &se) {
		return err
	}
	e := &StorageError{Op: op, Object: object, Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
	}
	var ee *endpointError
	switch {
	case e.Status == 0 && errors.As(err, &ee):
		e.Kind, e.Hint = ErrUnreachable, ee.hint
	case e.Status == 0 && isConnectFailure(err):
		e.Kind, e.Hint = ErrUnreachable, hintConnect
	case e.Status == http.StatusNotFound:
		e.Kind = ErrNotFound
		e.Hint = "check the storage account, container and blob names in the configuration"
		if e.Code == "ContainerNotFound" {
			e.Hint = "the container does not exist; check the container name"
		}
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		e.Kind = ErrAccessDenied
		e.Hint = "check the account key, SAS (permissions, expiry) or Entra ID role assignment (Storage Blob Data Contributor)"
	case e.Status == http.StatusRequestedRangeNotSatisfiable:
		e.Kind = ErrOutOfRange
	case isLeaseCode(e.Code):
		e.Kind = ErrLeased
		e.Hint = "the blob is leased (a VM using the disk still exists); stop or delete the VM, or break the lease"
	case e.Code == "InvalidBlobType":
		e.Kind = ErrNotPageBlob
		e.Hint = "only unmanaged page-blob disks are supported"
	}
	return e
}

func isConnectFailure(err error) bool {
	_, ok := connectFailure(err)
	return ok
}

func isLeaseCode(code string) bool {
	switch code {
	case "LeaseIdMissing", "LeaseIdMismatchWithBlobOperation", "LeaseNotPresentWithBlobOperation",
		"LeaseAlreadyPresent", "LeaseIdMismatchWithLeaseOperation", "LeaseLost":
		return true
	}
	return false
}

func hasCode(err error, codes ...string) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range codes {
		if re.ErrorCode == c {
			return true
		}
	}
	return false
}

func codeOf(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// permanent reports whether retrying err cannot help: an answer from the
// service that is not a timeout, throttling or server failure, the
// caller's context ending, or a wrong endpoint (see endpointTransport).
// Other transport errors, short bodies and a try timeout hit while
// reading a body are transient.
func permanent(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	switch s := statusOf(err); {
	case s == 0:
		var ee *endpointError
		return errors.Is(err, ErrOutOfRange) || errors.Is(err, ErrUnaligned) || errors.As(err, &ee)
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return false
	default:
		return true
	}
}
