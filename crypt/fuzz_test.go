package crypt

import "testing"

// Certificate files come from operators' folders: no input may panic.
// go test runs the seeds; `go test -fuzz FuzzParsePFX ./crypt` explores.
func FuzzParsePFX(f *testing.F) {
	f.Add(mustRead(f, "testdata/aes256.pfx"), aesPassword)
	f.Add(mustRead(f, "testdata/legacy-3des.pfx"), legacyPassword)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03}, "")
	f.Fuzz(func(t *testing.T, data []byte, pw string) {
		if p, err := parsePFX(data, pw); err == nil {
			_, _ = usableKey(p)
		}
		_, _ = pbes2ToPEM(data, pw)
	})
}

func FuzzParsePEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := parsePEM(data); err == nil {
			_, _ = usableKey(p)
		}
	})
}
