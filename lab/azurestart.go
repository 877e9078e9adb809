package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
)

// Log files of the lab's Azure process (relative to the lab folder).
const (
	azureLogFile = "logs/azure.log"
	armLogFile   = "logs/arm.log"
)

// ARMEndpoint is the lab's ARM endpoint, as config.toml's arm_endpoint.
func (m *Manifest) ARMEndpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", m.ARMPort) }

// FrontURL is the blob front's endpoint, account included.
func (m *Manifest) FrontURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/%s", m.FrontPort, azurite.AccountName)
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		defer ln.Close() // held until all are chosen, so they differ
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startAzure chooses the Azure process's two ports, records them in
// lab.json, starts the process, and waits until the blob front and the
// ARM endpoint answer and every VM's writer writes. A port another
// program takes between being chosen and being bound is chosen again.
func (b *builder) startAzure(ctx context.Context, lc *azure.LabCompute) error {
	m := b.m
	logPath := m.Path(azureLogFile)
	for try := 1; ; try++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		m.FrontPort, m.ARMPort = ports[0], ports[1]
		m.Azure = Proc{Log: azureLogFile, Started: time.Now().UTC()}
		if err := m.write(); err != nil {
			return err
		}
		var from int64
		if st, err := os.Stat(logPath); err == nil {
			from = st.Size()
		}
		argv := append([]string{b.o.Exe}, azureArgs(m.Dir)...)
		if m.Azure.PID, err = startDetached(argv, os.Environ(), logPath); err != nil {
			return err
		}
		if err := m.write(); err != nil {
			return err
		}
		err = waitAzure(ctx, m, 30*time.Second)
		if errors.Is(err, errAzureExited) && try < 3 && strings.Contains(string(readFrom(logPath, from)), "address already in use") {
			continue
		}
		if err != nil {
			return err
		}
		return waitWriters(ctx, m, lc, 20*time.Second)
	}
}

// errAzureExited: the Azure process ended before it answered.
var errAzureExited = errors.New("the lab's Azure process exited")

// waitAzure waits until the blob front and the ARM endpoint both answer.
func waitAzure(ctx context.Context, m *Manifest, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		front := azuriteAnswers(ctx, m.FrontPort)
		armErr := armAnswers(ctx, m)
		if front && armErr == nil {
			return nil
		}
		if !alive(m.Azure.PID) {
			return fmt.Errorf("%w; its output (%s):\n%s", errAzureExited, m.Path(m.Azure.Log), tail(readFrom(m.Path(m.Azure.Log), 0), 2000))
		}
		if time.Now().After(deadline) {
			what := "the ARM endpoint on port " + fmt.Sprint(m.ARMPort) + " (" + fmt.Sprint(armErr) + ")"
			if !front {
				what = fmt.Sprintf("the blob front on port %d", m.FrontPort)
			}
			return fmt.Errorf("the lab's Azure process (pid %d) runs, but %s did not answer within %v; see %s", m.Azure.PID, what, d, m.Path(m.Azure.Log))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// armVMs is the ARM endpoint's VM client, authenticated with the lab
// token, without retries (a probe wants the answer as it is).
func armVMs(m *Manifest) (*armcompute.VirtualMachinesClient, error) {
	url := m.ARMEndpoint()
	co := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: url, Audience: url}}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: -1},
	}, DisableRPRegistration: true}
	return armcompute.NewVirtualMachinesClient(m.SubscriptionID, azure.LabToken{}, co)
}

// armVMCount lists the lab's resource group through the ARM endpoint, as
// the SDK does: the number of VMs ARM knows, or why it did not answer.
func armVMCount(ctx context.Context, m *Manifest) (int, error) {
	if m.ARMPort <= 0 {
		return 0, errors.New("lab.json records no ARM port")
	}
	c, err := armVMs(m)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	n := 0
	for p := c.NewListPager(m.ResourceGroup, nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Value)
	}
	return n, nil
}

func armAnswers(ctx context.Context, m *Manifest) error {
	_, err := armVMCount(ctx, m)
	return err
}

// waitWriters waits until the Azure process's writer runs for every VM,
// so a lab that says it is ready really has VMs writing.
func waitWriters(ctx context.Context, m *Manifest, lc *azure.LabCompute, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, v := range m.VMs {
		for {
			ws, err := lc.WriterStatus(ctx, v.Name)
			if err != nil {
				return err
			}
			if ws.Err != "" {
				return fmt.Errorf("lab Azure VM %s: its writer failed: %s (see %s)", v.Name, ws.Err, m.Path(m.Azure.Log))
			}
			// The lock, not the status file alone: a killed writer's file
			// still says writing.
			live, err := lc.WriterAlive(v.Name)
			if err != nil {
				return err
			}
			if live && ws.Writing && !ws.Heartbeat.IsZero() {
				break
			}
			if !alive(m.Azure.PID) {
				return fmt.Errorf("%w; its output (%s):\n%s", errAzureExited, m.Path(m.Azure.Log), tail(readFrom(m.Path(m.Azure.Log), 0), 2000))
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("lab Azure VM %s: its writer did not start within %v; see %s", v.Name, d, m.Path(m.Azure.Log))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
