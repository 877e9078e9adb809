package azure

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
)

// ResourceID is the part of an ARM resource id failback uses.
type ResourceID struct {
	Subscription  string
	ResourceGroup string
	// Type is "Microsoft.Compute/disks" and the like.
	Type string
	Name string
}

// ParseResourceID reads /subscriptions/S/resourceGroups/G/providers/P/T/N.
func ParseResourceID(id string) (ResourceID, error) {
	r, err := arm.ParseResourceID(id)
	if err != nil {
		return ResourceID{}, fmt.Errorf("resource id %q: %w", id, err)
	}
	return ResourceID{Subscription: r.SubscriptionID, ResourceGroup: r.ResourceGroupName,
		Type: r.ResourceType.String(), Name: r.Name}, nil
}

// SameResource reports whether two ARM ids name the same resource (ARM
// ids compare without case).
func SameResource(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
