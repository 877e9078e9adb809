package workflow

// Resting reports whether a job in state s waits for someone (the
// operator's next action, or nothing more: it is over) rather than moving
// on by itself. It is the one definition every front end uses: the
// console's job list and "working" count, the disk table, the script
// commands' waits, and the Manager's own decision to resume a job at Open.
func (s JobState) Resting() bool {
	switch s {
	case StateReady, StatePendingCommit, StateCommitted, StateCancelled, StateUndone, StateFailed, StateInterrupted,
		StateTesting, StateTestEnded:
		return true
	}
	return false
}

// Moving reports whether a job in state s is doing work now.
func (s JobState) Moving() bool { return !s.Resting() }

// Final reports whether a job in state s is over for good (cancelled,
// undone, or a test ended): no action applies to it any more.
func (s JobState) Final() bool { return s == StateCancelled || s == StateUndone || s == StateTestEnded }

// Stopped reports whether a job in state s stopped on an error or an
// interruption and waits for resume (or cancel/undo).
func (s JobState) Stopped() bool { return s == StateFailed || s == StateInterrupted }
