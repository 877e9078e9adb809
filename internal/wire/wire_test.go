package wire

import (
	"testing"
	"time"

	"github.com/failback/failback/config"
)

// TestLabARMPollsNoFasterThanTheSDKAllows: azcore's PollUntilDone refuses
// a frequency under one second outside Go tests, so a lab endpoint given
// less worked in every test and failed in the real binary.
func TestLabARMPollsNoFasterThanTheSDKAllows(t *testing.T) {
	for _, ep := range []string{"http://127.0.0.1:4000", ""} {
		cfg := &config.Config{Azure: config.Azure{SubscriptionID: "00000000-0000-0000-0000-000000000001", ARMEndpoint: ep}}
		if o := ARMOptions(cfg); o.PollInterval != 0 && o.PollInterval < time.Second {
			t.Fatalf("arm_endpoint %q: PollInterval %v; azcore refuses less than 1s outside tests", ep, o.PollInterval)
		}
	}
}
