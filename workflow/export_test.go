package workflow

import "github.com/failback/failback/crypt"

// OnUnlock shows tests every certificate check a job passes (its
// certificate and data keys); the returned function stops it.
func OnUnlock(f func(*crypt.Unlocked)) (restore func()) {
	onUnlock = f
	return func() { onUnlock = nil }
}
