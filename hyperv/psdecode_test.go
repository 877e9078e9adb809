package hyperv

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// What a host does with what PSHost sends, for the test SSH server and the
// encoding tests: the reverse of encodeCommand and buildInvocation.

// decodeCommand reverses the encoding of powershell -EncodedCommand.
func decodeCommand(enc string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", err
	}
	if len(b)%2 != 0 {
		return "", errors.New("odd length: not UTF-16")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// scriptFromInvocation recovers the script from a command line and standard
// input as buildInvocation made them.
func scriptFromInvocation(cmdline string, stdin []byte) (string, error) {
	f := strings.Fields(cmdline)
	if len(f) != 5 || !strings.EqualFold(f[1], "-NoProfile") || !strings.EqualFold(f[2], "-NonInteractive") || !strings.EqualFold(f[3], "-EncodedCommand") {
		return "", fmt.Errorf("not a failback PowerShell command line: %.60q", cmdline)
	}
	s, err := decodeCommand(f[4])
	if err != nil {
		return "", err
	}
	if s != stdinBootstrap {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(stdin)))
	if err != nil {
		return "", fmt.Errorf("stdin is not the base64 script: %w", err)
	}
	return string(b), nil
}
