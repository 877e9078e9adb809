package hyperv

// NewEmulatedPSHost is a PSHost whose scripts are answered by an emulated
// Hyper-V host, for the behaviour suite; remove deletes a disk file on it.
func NewEmulatedPSHost() (h *PSHost, remove func(hostPath string) error) {
	e := newHVEmulator()
	return NewPSHost("hv01.example.com", e), func(p string) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.removeFile(p)
	}
}
