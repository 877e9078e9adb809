package azurite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Front is a loopback blob endpoint in front of Azurite that answers Get
// Page Ranges Diff the way Azure does, and passes everything else through
// unchanged. Azurite 3.37 routes every diff (prevsnapshot, or the
// x-ms-previous-snapshot-url header that managed-disk snapshots use) to
// Get Page Ranges: it answers the newer snapshot's whole range list and no
// cleared ranges, so a page trimmed between two snapshots would be missed.
// The front computes the diff from the two snapshots themselves: pages
// allocated only in the newer one or holding other bytes are changed
// ranges, pages allocated only in the older one are cleared ranges.
// Pages rewritten with the same bytes are not listed (Azure would list
// them): the answer is exact about content, which is all a sync needs.
//
// The request is first sent to Azurite as it came, so Azurite checks its
// signature and that the blob exists; only a request Azurite accepts gets
// the computed answer.
type Front struct {
	// URL is the front's blob endpoint, account included.
	URL string
	// Port is the front's loopback port.
	Port int

	ln      net.Listener
	srv     *http.Server
	backend *url.URL
	proxy   *httputil.ReverseProxy
	svc     *service.Client
	sums    *chunkSums // checksums of snapshots' chunks (frontdiff.go)
}

// StartFront serves a front for the Azurite listening on backendPort, on
// a free loopback port (or port, when not 0).
func StartFront(backendPort, port int) (*Front, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("azurite front: %w", err)
	}
	backend, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", backendPort))
	cred, err := service.NewSharedKeyCredential(AccountName, AccountKey)
	if err != nil {
		ln.Close()
		return nil, err
	}
	svc, err := service.NewClientWithSharedKeyCredential(backend.String()+"/"+AccountName, cred, nil)
	if err != nil {
		ln.Close()
		return nil, err
	}
	f := &Front{ln: ln, backend: backend, svc: svc, Port: ln.Addr().(*net.TCPAddr).Port, sums: newChunkSums()}
	f.URL = fmt.Sprintf("http://127.0.0.1:%d/%s", f.Port, AccountName)
	f.proxy = httputil.NewSingleHostReverseProxy(backend)
	f.proxy.ErrorLog = nil
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// ConnectionString is the azblob connection string through the front.
func (f *Front) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", AccountName, AccountKey, f.URL)
}

// Close stops the front (not Azurite).
func (f *Front) Close() error { return f.srv.Close() }

// ServeHTTP answers diffs and passes the rest to Azurite.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodGet && q.Get("comp") == "pagelist" &&
		(q.Get("prevsnapshot") != "" || r.Header.Get("x-ms-previous-snapshot-url") != "") {
		f.diff(w, r)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

// blobAt is a blob (or one of its snapshots) named by a request path or a
// URL: /account/container/name.
type blobAt struct{ container, name, snapshot string }

func parseBlobPath(p string) (blobAt, bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return blobAt{}, false
	}
	return blobAt{container: parts[1], name: parts[2]}, true
}

func (f *Front) client(b blobAt) (*pageblob.Client, error) {
	pb := f.svc.NewContainerClient(b.container).NewPageBlobClient(b.name)
	if b.snapshot == "" {
		return pb, nil
	}
	return pb.WithSnapshot(b.snapshot)
}

func (f *Front) diff(w http.ResponseWriter, r *http.Request) {
	// Azurite checks the signature and that the newer blob exists.
	resp, err := f.forward(r)
	if err != nil {
		writeError(w, http.StatusBadGateway, "InternalError", err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	cur, ok := parseBlobPath(r.URL.Path)
	if !ok {
		writeError(w, http.StatusBadRequest, "InvalidUri", "not a blob path")
		return
	}
	cur.snapshot = r.URL.Query().Get("snapshot")
	prev := cur
	prev.snapshot = r.URL.Query().Get("prevsnapshot")
	if h := r.Header.Get("x-ms-previous-snapshot-url"); h != "" {
		u, err := url.Parse(h)
		p, ok := parseBlobPath(u.Path)
		if err != nil || !ok {
			writeError(w, http.StatusBadRequest, "InvalidHeaderValue", "x-ms-previous-snapshot-url is not a blob URL")
			return
		}
		p.snapshot = u.Query().Get("snapshot")
		prev = p
	}
	ctx := r.Context()
	cpb, err1 := f.client(cur)
	ppb, err2 := f.client(prev)
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidQueryParameterValue", err.Error())
		return
	}
	cprops, err := cpb.GetProperties(ctx, nil)
	if err != nil {
		writeError(w, http.StatusNotFound, "BlobNotFound", err.Error())
		return
	}
	if _, err := ppb.GetProperties(ctx, nil); err != nil {
		writeError(w, http.StatusNotFound, "PreviousSnapshotNotFound", "the previous snapshot does not exist")
		return
	}
	if prev.snapshot != "" && cur.snapshot != "" && prev.container == cur.container && prev.name == cur.name && prev.snapshot > cur.snapshot {
		writeError(w, http.StatusBadRequest, "PreviousSnapshotCannotBeNewer", "the previous snapshot is newer than the snapshot")
		return
	}
	size := *cprops.ContentLength
	lo, hi := int64(0), size
	if rng := firstNonEmpty(r.Header.Get("x-ms-range"), r.Header.Get("Range")); rng != "" {
		a, b, ok := parseRange(rng)
		if !ok {
			writeError(w, http.StatusBadRequest, "InvalidRange", "bad range "+rng)
			return
		}
		lo, hi = a, min(b+1, size)
	}
	changed, cleared, err := computeDiff(ctx, f.sums, snapBlob{cpb, cur.key()}, snapBlob{ppb, prev.key()}, lo, hi)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	writePageList(w, resp.Header, size, changed, cleared)
}

// forward sends the request unchanged to Azurite.
func (f *Front) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = f.backend.Scheme, f.backend.Host
	out.Host = f.backend.Host
	return http.DefaultTransport.RoundTrip(out)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func parseRange(s string) (int64, int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes=")
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	return x, y, ok && err1 == nil && err2 == nil && x >= 0 && y >= x
}

// span is [off, end) of a blob.
type span struct{ off, end int64 }

// listRanges lists a blob's allocated pages inside [lo, hi), merged.
func listRanges(ctx context.Context, pb *pageblob.Client, lo, hi int64) ([]span, error) {
	var out []span
	pager := pb.NewGetPageRangesPager(&pageblob.GetPageRangesOptions{Range: blob.HTTPRange{Offset: lo, Count: hi - lo}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, pr := range page.PageRange {
			if pr == nil || pr.Start == nil || pr.End == nil {
				continue
			}
			out = append(out, span{max(*pr.Start, lo), min(*pr.End+1, hi)})
		}
	}
	return mergeSpans(out), nil
}

func mergeSpans(in []span) []span {
	// Azurite lists in order but may split adjacent writes.
	slices.SortFunc(in, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	var out []span
	for _, s := range in {
		if s.end <= s.off {
			continue
		}
		if n := len(out); n > 0 && s.off <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// computeDiff compares the newer blob cur with prev over [lo, hi).
func computeDiff(ctx context.Context, sums *chunkSums, cur, prev snapBlob, lo, hi int64) (changed, cleared []span, err error) {
	cr, err := listRanges(ctx, cur.pb, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	pr, err := listRanges(ctx, prev.pb, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	// Walk the boundaries of both lists: each piece between two cuts is
	// in cur, in prev, in both or in neither.
	cuts := []int64{lo, hi}
	for _, s := range append(append([]span(nil), cr...), pr...) {
		cuts = append(cuts, s.off, s.end)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	ci, pi := 0, 0
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		for ci < len(cr) && cr[ci].end <= a {
			ci++
		}
		for pi < len(pr) && pr[pi].end <= a {
			pi++
		}
		inC := ci < len(cr) && cr[ci].off <= a
		inP := pi < len(pr) && pr[pi].off <= a
		switch {
		case inC && !inP:
			changed = appendSpan(changed, span{a, b})
		case inP && !inC:
			cleared = appendSpan(cleared, span{a, b})
		case inC && inP:
			d, err := differingPages(ctx, sums, cur, prev, a, b)
			if err != nil {
				return nil, nil, err
			}
			for _, s := range d {
				changed = appendSpan(changed, s)
			}
		}
	}
	return changed, cleared, nil
}

func appendSpan(l []span, s span) []span {
	if n := len(l); n > 0 && l[n-1].end == s.off {
		l[n-1].end = s.end
		return l
	}
	return append(l, s)
}

func download(ctx context.Context, pb *pageblob.Client, off, n int64) ([]byte, error) {
	buf := make([]byte, n)
	_, err := pb.DownloadBuffer(ctx, buf, &blob.DownloadBufferOptions{Range: blob.HTTPRange{Offset: off, Count: n}})
	return buf, err
}

// writePageList answers as Azure does: <PageList> with PageRange and
// ClearRange entries (inclusive ends), in offset order.
func writePageList(w http.ResponseWriter, from http.Header, size int64, changed, cleared []span) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><PageList>`)
	i, k := 0, 0
	for i < len(changed) || k < len(cleared) {
		tag, s := "PageRange", span{}
		if k >= len(cleared) || (i < len(changed) && changed[i].off < cleared[k].off) {
			s = changed[i]
			i++
		} else {
			tag, s = "ClearRange", cleared[k]
			k++
		}
		fmt.Fprintf(&b, "<%s><Start>%d</Start><End>%d</End></%s>", tag, s.off, s.end-1, tag)
	}
	b.WriteString("</PageList>")
	for _, h := range []string{"Last-Modified", "ETag", "x-ms-request-id", "x-ms-version", "Date"} {
		if v := from.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("x-ms-blob-content-length", strconv.FormatInt(size, 10))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, b.String())
}
