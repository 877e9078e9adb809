//go:build !linux

package azurite

import "os/exec"

func dieWithParent(cmd *exec.Cmd) {}
