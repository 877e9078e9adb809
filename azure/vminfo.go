package azure

import (
	"fmt"
	"net/url"
	"strings"
)

// VMRef names an Azure VM: its resource group ("" for the default one of
// the Compute it is given to) and its name.
type VMRef struct {
	ResourceGroup string `json:"resource_group,omitempty"`
	Name          string `json:"name"`
}

// String is "group/name", or the name alone in the default group.
func (v VMRef) String() string {
	if v.ResourceGroup == "" {
		return v.Name
	}
	return v.ResourceGroup + "/" + v.Name
}

// VMInfo is what ARM says of a VM that a failback needs: its disks as the
// storage profile lists them, and its network interfaces.
type VMInfo struct {
	ID       string
	Location string
	// Size is the VM size (Standard_D4s_v5).
	Size      string
	OSDisk    ProfileDisk
	DataDisks []ProfileDisk
	// NICs are the ids of the VM's network interfaces.
	NICs []NICRef
}

// Disks lists the OS disk, then the data disks by LUN.
func (v VMInfo) Disks() []ProfileDisk {
	return append([]ProfileDisk{v.OSDisk}, v.DataDisks...)
}

// NICRef is one of a VM's network interfaces.
type NICRef struct {
	ID string
	// DeleteWithVM says Azure deletes the NIC with the VM (deleteOption
	// Delete).
	DeleteWithVM bool
	// PublicIPs are the ids of the public IP addresses its IP
	// configurations hold.
	PublicIPs []string
}

// Name is the NIC's name (the last part of its id).
func (n NICRef) Name() string { return lastSegment(n.ID) }

func lastSegment(id string) string {
	if i := strings.LastIndexByte(strings.TrimRight(id, "/"), '/'); i >= 0 {
		return strings.TrimRight(id, "/")[i+1:]
	}
	return id
}

// ProfileDisk is one disk of a VM's storage profile.
type ProfileDisk struct {
	// OS is the OS disk; otherwise LUN is the data disk's slot.
	OS  bool
	LUN int
	// Name is the disk's name in the profile.
	Name string
	// Ref is the disk: a managed disk by id, or a page blob by its VHD URI.
	Ref DiskRef
	// Account is a page-blob disk's storage account (from the VHD URI).
	Account string
	// SizeGB is the size the profile gives (0 when it gives none).
	SizeGB int32
	// SKU is a managed disk's storage type (Premium_LRS).
	SKU string
	// DeleteWithVM says Azure deletes the disk with the VM (deleteOption
	// Delete).
	DeleteWithVM bool
}

// Slot names the disk's place in the VM: "OS disk" or "LUN 2".
func (p ProfileDisk) Slot() string {
	if p.OS {
		return "OS disk"
	}
	return fmt.Sprintf("LUN %d", p.LUN)
}

// ParseVHDURI reads a page-blob disk's VHD URI
// (https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH/NAME.vhd, or an
// emulator's http://HOST:PORT/ACCOUNT/CONTAINER/...) into its account
// and reference.
func ParseVHDURI(raw string) (account string, ref DiskRef, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", DiskRef{}, fmt.Errorf("VHD URI %q is not a URL", redactURL(raw))
	}
	p := strings.TrimPrefix(u.Path, "/")
	host := u.Hostname()
	if i := strings.Index(host, ".blob."); i > 0 {
		account = host[:i]
	} else {
		account, p, _ = strings.Cut(p, "/")
	}
	container, blob, ok := strings.Cut(p, "/")
	if !ok || container == "" || blob == "" {
		return "", DiskRef{}, fmt.Errorf("VHD URI %q names no container and blob", redactURL(raw))
	}
	if b, err := url.PathUnescape(blob); err == nil {
		blob = b
	}
	return account, PageBlobRef(container, blob), nil
}
