package labtest

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/failback/failback/internal/faultproxy"
	"github.com/failback/failback/internal/testenv"
)

// moverProxy starts the proxy of Options.MoverThrottle (once) in front
// of Azurite, throttling reads of blob data and page writes (reverse
// replication), and is a transport
// sending each request there, through next when set.
func (l *Lab) moverProxy(next policy.Transporter) policy.Transporter {
	if l.MoverProxy == nil {
		p, err := faultproxy.Start(faultproxy.Options{
			Upstream: fmt.Sprintf("http://127.0.0.1:%d", testenv.AzuritePort(l.T)),
			Throttle: l.opts.MoverThrottle,
			Match: func(r *http.Request) bool {
				q := r.URL.Query()
				return (r.Method == http.MethodGet && q.Get("comp") == "" && q.Get("restype") == "") ||
					(r.Method == http.MethodPut && q.Get("comp") == "page")
			},
		})
		if err != nil {
			l.T.Fatal(err)
		}
		l.T.Cleanup(func() { _ = p.Close() })
		l.MoverProxy = p
	}
	to, err := url.Parse(l.MoverProxy.URL)
	if err != nil {
		l.T.Fatal(err)
	}
	if next == nil {
		next = http.DefaultClient
	}
	return redirect{to: to, next: next}
}

// redirect sends each request to another host (the proxy), as it is.
type redirect struct {
	to   *url.URL
	next policy.Transporter
}

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = r.to.Scheme, r.to.Host, r.to.Host
	return r.next.Do(out)
}
