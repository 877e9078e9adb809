package mover

import (
	"context"
	"errors"
	"io/fs"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/vdisk"
)

// wireError is an error as it crosses: its text, and the kind of error
// it wraps, so the driver's errors.Is answers as it would for the same
// error raised in its own process.
type wireError struct {
	Msg  string `json:"msg"`
	Kind string `json:"kind,omitempty"`
}

// kinds are the errors whose kind crosses, tested in this order (the
// most specific first).
var kinds = []struct {
	name string
	err  error
}{
	{"canceled", context.Canceled},
	{"exists", fs.ErrExist},
	{"deadline", context.DeadlineExceeded},
	{"journal-corrupt", engine.ErrJournalCorrupt},
	{"journal-unreadable", engine.ErrJournalUnreadable},
	{"rollback-incomplete", engine.ErrRollbackIncomplete},
	{"rollback-pending", engine.ErrRollbackPending},
	{"no-journal", engine.ErrNoJournal},
	{"journal-busy", engine.ErrJournalBusy},
	{"job-mismatch", engine.ErrJobMismatch},
	{"old-journal", engine.ErrOldJournal},
	{"wrong-target", engine.ErrWrongTarget},
	{"size-mismatch", engine.ErrSizeMismatch},
	{"mismatch", engine.ErrMismatch},
	{"sums-corrupt", engine.ErrSumsCorrupt},
	{"image-corrupt", vdisk.ErrCorrupt},
	{"image-unsupported", vdisk.ErrUnsupported},
	{"disk-in-use", hyperv.ErrDiskInUse},
	{"no-space", hyperv.ErrNoSpace},
	{"azure-denied", azure.ErrAccessDenied},
	{"azure-not-found", azure.ErrNotFound},
	{"azure-unreachable", azure.ErrUnreachable},
	{"no-scoped-access", azure.ErrNoScopedAccess},
	{"agent-unauthorized", agent.ErrUnauthorized},
	{"agent-certificate", agent.ErrCertMismatch},
	{"not-exist", fs.ErrNotExist},
	{"protocol", ErrProtocol},
}

// toWire is err as it crosses.
func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	we := &wireError{Msg: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			we.Kind = k.name
			break
		}
	}
	return we
}

// fromWire rebuilds an error that crossed.
func fromWire(we *wireError) error {
	if we == nil {
		return nil
	}
	for _, k := range kinds {
		if k.name == we.Kind {
			return &remoteError{msg: we.Msg, kind: k.err}
		}
	}
	return &remoteError{msg: we.Msg}
}

// remoteError is an error the mover raised.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }
