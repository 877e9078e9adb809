package azure

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
)

// ImportOptions say which managed disk to make from a VHD blob.
type ImportOptions struct {
	ResourceGroup, Name, Location string
	// SKU is the disk's storage type (default Standard_LRS).
	SKU string
	// SourceURI is the VHD page blob (no query); StorageAccountID the ARM
	// id of its storage account.
	SourceURI, StorageAccountID string
	// Tags are set on the disk.
	Tags map[string]string
}

// Import makes a managed disk from a fixed-VHD page blob (createOption
// Import) and waits until it exists.
func (m *ManagedDisks) Import(ctx context.Context, o ImportOptions) (DiskRef, error) {
	if o.SKU == "" {
		o.SKU = string(armcompute.DiskStorageAccountTypesStandardLRS)
	}
	rg := o.ResourceGroup
	if rg == "" {
		rg = m.o.ARM.ResourceGroup
	}
	sku := armcompute.DiskStorageAccountTypes(o.SKU)
	imp := armcompute.DiskCreateOptionImport
	tags := map[string]*string{}
	for k, v := range o.Tags {
		tags[k] = &v
	}
	body := armcompute.Disk{Location: &o.Location, SKU: &armcompute.DiskSKU{Name: &sku}, Tags: tags,
		Properties: &armcompute.DiskProperties{CreationData: &armcompute.CreationData{
			CreateOption: &imp, SourceURI: &o.SourceURI, StorageAccountID: &o.StorageAccountID}}}
	ctx, cancel := context.WithTimeout(ctx, m.o.ARM.OperationTimeout)
	defer cancel()
	p, err := m.disks.BeginCreateOrUpdate(ctx, rg, o.Name, body, nil)
	if err != nil {
		return DiskRef{}, m.wrapARM("import managed disk", rg+"/"+o.Name, err)
	}
	resp, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: m.o.ARM.PollInterval})
	if err != nil {
		return DiskRef{}, m.wrapARM("import managed disk", rg+"/"+o.Name, err)
	}
	if resp.ID == nil {
		return DiskRef{}, fmt.Errorf("azure import managed disk %s/%s: ARM returned no id", rg, o.Name)
	}
	return DiskRef{Kind: KindManaged, ResourceGroup: rg, Name: o.Name, ID: *resp.ID}, nil
}
