package vdisk

// Temporary until the VHDX implementation lands (it deletes this file).

func openVHDX(path string, o OpenOptions) (Image, error) {
	return nil, ErrUnsupported
}

func createVHDX(path string, o CreateOptions) (Image, error) {
	return nil, ErrUnsupported
}
