package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// ARMOptions say how to reach the VMs of one resource group.
type ARMOptions struct {
	SubscriptionID string
	ResourceGroup  string
	// Credential authenticates to ARM; nil uses DefaultAzureCredential
	// (environment, workload identity, managed identity, Azure CLI).
	Credential azcore.TokenCredential
	// Endpoint replaces the public cloud's ARM endpoint (sovereign clouds;
	// tests). Audience goes with it (default: the endpoint).
	Endpoint string
	Audience string

	// OperationTimeout bounds one power off, start or delete, polling
	// included (default 15 min).
	OperationTimeout time.Duration
	// PollInterval is the wait between polls when ARM gives no
	// Retry-After (default 5 s).
	PollInterval time.Duration
	// MaxRetries, RetryDelay, MaxRetryDelay and TryTimeout as for storage
	// (defaults 5, 2 s, 60 s, 60 s). 429 answers wait for their Retry-After.
	MaxRetries    int
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	TryTimeout    time.Duration
	// Transport replaces the HTTP client (tests). Not a config option.
	Transport policy.Transporter
}

// ARMCompute is Compute over Azure Resource Manager.
type ARMCompute struct {
	vms  *armcompute.VirtualMachinesClient
	nics *armnetwork.InterfacesClient
	pips *armnetwork.PublicIPAddressesClient
	rg   string
	opts ARMOptions
}

var _ Compute = (*ARMCompute)(nil)

// NewARMCompute builds the ARM client (no request is sent yet).
func NewARMCompute(o ARMOptions) (*ARMCompute, error) {
	if o.SubscriptionID == "" {
		return nil, errors.New("azure compute: a subscription id is required")
	}
	o = o.withDefaults()
	cred, co, err := o.client()
	if err != nil {
		return nil, fmt.Errorf("azure compute: %w", err)
	}
	a := &ARMCompute{rg: o.ResourceGroup, opts: o}
	if a.vms, err = armcompute.NewVirtualMachinesClient(o.SubscriptionID, cred, co); err == nil {
		if a.nics, err = armnetwork.NewInterfacesClient(o.SubscriptionID, cred, co); err == nil {
			a.pips, err = armnetwork.NewPublicIPAddressesClient(o.SubscriptionID, cred, co)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("azure compute: %w", err)
	}
	return a, nil
}

func (o ARMOptions) withDefaults() ARMOptions {
	if o.OperationTimeout == 0 {
		o.OperationTimeout = 15 * time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 2 * time.Second
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 60 * time.Second
	}
	if o.TryTimeout == 0 {
		o.TryTimeout = 60 * time.Second
	}
	return o
}

// client is the credential and client options every ARM client of o
// shares: our retry policy, the endpoint override, no provider
// registration.
func (o ARMOptions) client() (azcore.TokenCredential, *arm.ClientOptions, error) {
	cred := o.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, nil, fmt.Errorf("credential (Microsoft Entra ID): %w", err)
		}
		cred = c
	}
	co := &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Retry: policy.RetryOptions{
				MaxRetries:    int32(o.MaxRetries),
				RetryDelay:    o.RetryDelay,
				MaxRetryDelay: o.MaxRetryDelay,
				TryTimeout:    o.TryTimeout,
				StatusCodes:   retryStatusCodes,
			},
			Transport: o.Transport,
			Telemetry: policy.TelemetryOptions{ApplicationID: "failback"},
		},
		// Registering resource providers is an admin's decision, not ours.
		DisableRPRegistration: true,
	}
	if o.Endpoint != "" {
		aud := o.Audience
		if aud == "" {
			aud = o.Endpoint
		}
		co.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: aud},
			},
		}
		// A token goes over plain HTTP only to a loopback endpoint (the
		// lab's); anything else must be https.
		if LoopbackHTTP(o.Endpoint) {
			co.InsecureAllowCredentialWithHTTP = true
		}
	}
	return cred, co, nil
}

// LoopbackHTTP reports whether raw is an http:// URL on a loopback host:
// the lab's ARM endpoint, never Azure's.
func LoopbackHTTP(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// group is the VM's resource group: its own, else the default.
func (a *ARMCompute) group(vm VMRef) string {
	if vm.ResourceGroup != "" {
		return vm.ResourceGroup
	}
	return a.rg
}

// State reads the VM's power state from its instance view.
func (a *ARMCompute) State(ctx context.Context, vm VMRef) (PowerState, error) {
	resp, err := a.vms.InstanceView(ctx, a.group(vm), vm.Name, nil)
	if err != nil {
		return PowerUnknown, a.wrap("read state of", vm, err)
	}
	for _, s := range resp.Statuses {
		if s != nil && s.Code != nil && strings.HasPrefix(strings.ToLower(*s.Code), "powerstate/") {
			return ParsePowerState(*s.Code), nil
		}
	}
	// No power state while a VM is being created or changed.
	return PowerUnknown, nil
}

// PowerOff stops the VM (kept allocated, or deallocated) and waits until
// it is off.
func (a *ARMCompute) PowerOff(ctx context.Context, vm VMRef, o PowerOffOptions) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OperationTimeout)
	defer cancel()
	if o.Deallocate {
		p, err := a.vms.BeginDeallocate(ctx, a.group(vm), vm.Name, nil)
		if err != nil {
			return a.wrap("deallocate", vm, err)
		}
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
		return a.wrap("deallocate", vm, err)
	}
	p, err := a.vms.BeginPowerOff(ctx, a.group(vm), vm.Name, nil)
	if err != nil {
		return a.wrap("power off", vm, err)
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
	return a.wrap("power off", vm, err)
}

// Start starts the VM and waits until it runs.
func (a *ARMCompute) Start(ctx context.Context, vm VMRef) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OperationTimeout)
	defer cancel()
	p, err := a.vms.BeginStart(ctx, a.group(vm), vm.Name, nil)
	if err != nil {
		return a.wrap("start", vm, err)
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
	return a.wrap("start", vm, err)
}

// Delete deletes the VM and waits until it is gone; a VM already gone is
// not an error. Unmanaged disks stay in the storage account (see
// Storage.DeleteDisk); managed disks whose deleteOption is Delete go with
// the VM unless KeepDisks, which sets it to Detach first.
func (a *ARMCompute) Delete(ctx context.Context, vm VMRef, o DeleteOptions) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.OperationTimeout)
	defer cancel()
	if o.KeepDisks {
		if err := a.keepDisks(ctx, vm); err != nil {
			return err
		}
	}
	p, err := a.vms.BeginDelete(ctx, a.group(vm), vm.Name, nil)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		return a.wrap("delete", vm, err)
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: a.opts.PollInterval})
	return a.wrap("delete", vm, err)
}

// wrap gives ARM errors about a VM one line and a next step.
func (a *ARMCompute) wrap(op string, vm VMRef, err error) error {
	return a.wrapWhere(fmt.Sprintf("azure %s VM %s (resource group %s)", op, vm.Name, a.group(vm)), err)
}

func (a *ARMCompute) wrapNet(op, id string, err error) error {
	return a.wrapWhere(fmt.Sprintf("azure %s %s", op, id), err)
}

func (a *ARMCompute) wrapWhere(where string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no result within %v; check the VM in the Azure portal, then retry: %w", where, a.opts.OperationTimeout, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w (HTTP 404 %s); check the VM name and resource group", where, ErrVMNotFound, re.ErrorCode)
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%s: %w (HTTP %d %s); the identity needs the Virtual Machine Contributor role on the resource group", where, ErrAccessDenied, re.StatusCode, re.ErrorCode)
		default:
			msg := armMessage(re)
			if msg == "" {
				msg = "see the activity log of the VM in the Azure portal"
			}
			return fmt.Errorf("%s: HTTP %d %s: %s%w", where, re.StatusCode, re.ErrorCode, msg, errHidden{err})
		}
	}
	return fmt.Errorf("%s: %w", where, errOneLine{err})
}

// armMessage digs the message out of an ARM error body ({"error":{...}},
// also inside a failed operation's status).
func armMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return ""
	}
	var doc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return strings.Join(strings.Fields(doc.Error.Message), " ")
}

// errHidden keeps the SDK's error for errors.As without printing it: its
// text spans many lines and repeats what the message already says.
type errHidden struct{ err error }

func (e errHidden) Error() string { return "" }

func (e errHidden) Unwrap() error { return e.err }

// errOneLine keeps the SDK's error for errors.As but prints only its
// first line (the full text spans many lines and repeats the body).
type errOneLine struct{ err error }

func (e errOneLine) Error() string {
	s := e.err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func (e errOneLine) Unwrap() error { return e.err }
