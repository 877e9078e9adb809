package workflow

import "fmt"

// FiguresText says what a disk's figures mean, in words every script
// command prints the same way: what the step went through of its scope,
// and what the pass read, found different and moved, as its mode means
// them (a full download reads every allocated byte however few blocks
// differ; a ranges pass goes only through what changed in Azure).
func (d DiskView) FiguresText() string {
	of := func(done, total int64) string {
		if total <= 0 {
			return bytesText(done)
		}
		return bytesText(done) + " of " + bytesText(total)
	}
	moved := fmt.Sprintf("%d block(s) differed, %s moved", d.BlocksDiffered, bytesText(d.BytesTransferred))
	if d.BytesToTransfer == 0 && d.Phase != diskDone && d.BytesTransferred > 0 {
		moved += " so far"
	}
	switch d.Phase {
	case diskWaiting:
		if d.Moved > 0 {
			return "waiting; earlier passes moved " + bytesText(d.Moved)
		}
		return "waiting"
	case diskVerify:
		return fmt.Sprintf("verified %s; the pass: %s", of(d.BytesChecked, d.BytesToCheck), moved)
	case diskRollback:
		return "rolled back " + of(d.BytesChecked, d.BytesToCheck)
	case diskReverse:
		return fmt.Sprintf("went through %s, sent %s", of(d.BytesChecked, d.BytesToCheck), bytesText(d.BytesTransferred))
	}
	switch d.Mode {
	case "full":
		return fmt.Sprintf("went through %s, reading %s from Azure (the allocated blocks, without checksums); %d block(s) differed from the on-premises disk and were written (%s)",
			of(d.BytesChecked, d.BytesToCheck), bytesText(d.BytesRead), d.BlocksDiffered, bytesText(d.BytesTransferred))
	case "ranges":
		return fmt.Sprintf("went through %s changed since the last snapshot; %s", of(d.BytesChecked, d.BytesToCheck), moved)
	}
	return fmt.Sprintf("checked %s by checksums; %s", of(d.BytesChecked, d.BytesToCheck), moved)
}
