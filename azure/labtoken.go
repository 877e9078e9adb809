package azure

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// LabToken is the credential for the lab's loopback ARM endpoint: a fixed
// bearer token that means nothing anywhere else. Only wire a loopback
// endpoint with it (LoopbackHTTP): a real endpoint needs Entra ID.
type LabToken struct{}

var _ azcore.TokenCredential = LabToken{}

// LabTokenValue is the token the lab's endpoint accepts.
const LabTokenValue = "failback-lab"

// GetToken returns the lab token, valid for an hour.
func (LabToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: LabTokenValue, ExpiresOn: time.Now().Add(time.Hour)}, nil
}
