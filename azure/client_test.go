package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/testenv"
)

func TestSecretNeverPrints(t *testing.T) {
	const v = "c2VjcmV0LWtleQ=="
	s := NewSecret(v)
	o := StorageOptions{AccountURL: "https://a.blob.core.windows.net/", AccountKey: s}
	js, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "key", s, "opts", o)
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %q %x %X %+v %#v %d", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", o, o, o), string(js), logged.String(), s.String(), s.GoString(),
	}
	for _, out := range outs {
		if strings.Contains(out, v) || strings.Contains(out, fmt.Sprintf("%x", v)) {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("no redaction marker in %q", out)
		}
	}
	if s.Reveal() != v {
		t.Error("Reveal lost the value")
	}
	var back Secret
	if err := back.UnmarshalText([]byte("x")); err != nil || back.Reveal() != "x" {
		t.Error("UnmarshalText (how config files fill it) failed")
	}
	if NewSecret("").String() != "" {
		t.Error("an unset secret should print empty, so 'is it set' stays visible")
	}
}

func TestStorageOptionsValidate(t *testing.T) {
	key := NewSecret("a2V5")
	cases := []struct {
		o    StorageOptions
		says string // "" means valid
	}{
		{StorageOptions{}, "no credentials"},
		{StorageOptions{AccountURL: "https://a.blob.core.windows.net/"}, "no credentials"},
		{StorageOptions{AccountURL: "https://a.blob.core.windows.net/", AccountKey: key, UseEntraID: true}, "several credentials"},
		{StorageOptions{AccountKey: key}, "account URL missing"},
		{StorageOptions{AccountURL: "ftp://x", SAS: key}, "not an http(s) URL"},
		{StorageOptions{AccountURL: "https://a.blob.core.windows.net/?sv=1&sig=abc"}, ""},
		{StorageOptions{AccountURL: "https://a.blob.core.windows.net/?sv=1&sig=abc", AccountKey: key}, "several credentials"},
		{StorageOptions{AccountURL: "https://a.blob.core.windows.net/", UseEntraID: true}, ""},
		{StorageOptions{ConnectionString: key}, ""},
	}
	for i, tc := range cases {
		err := tc.o.Validate()
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%d: err %v, want %q", i, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "sig=abc") {
			t.Errorf("%d: SAS in error: %v", i, err)
		}
	}
	for url, want := range map[string]string{
		"https://acct.blob.core.windows.net/":      "acct",
		"http://127.0.0.1:10000/devstoreaccount1":  "devstoreaccount1",
		"https://acct.blob.core.chinacloudapi.cn/": "acct",
	} {
		if got, err := accountNameFromURL(url); err != nil || got != want {
			t.Errorf("accountNameFromURL(%s) = %q, %v", url, got, err)
		}
	}
	if _, err := NewStorage(StorageOptions{AccountURL: "https://a.blob.core.windows.net/", UseEntraID: true}); err != nil {
		t.Errorf("Entra ID client: %v", err)
	}
}

// Every way to authenticate reaches Azurite: connection string, account
// URL with key, SAS token, SAS URL.
func TestAuthMethodsReachAzurite(t *testing.T) {
	ctx := context.Background()
	port := testenv.AzuritePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/%s", port, azurite.AccountName)
	keyed, err := NewStorage(StorageOptions{AccountURL: url, AccountKey: NewSecret(azurite.AccountKey)})
	if err != nil {
		t.Fatal(err)
	}
	c := uniqueName(t.Name())
	if err := keyed.CreateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keyed.DeleteContainer(context.Background(), c) })
	if _, err := keyed.CreateDisk(ctx, c, "d.vhd", mib, CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}
	sasURL, err := keyed.svc.GetSASURL(sas.AccountResourceTypes{Service: true, Container: true, Object: true},
		sas.AccountPermissions{Read: true, List: true}, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	token := sasURL[strings.IndexByte(sasURL, '?')+1:]
	opts := map[string]StorageOptions{
		"connection string": {ConnectionString: NewSecret(testenv.AzuriteConnectionString(t))},
		"account key":       {AccountURL: url, AccountKey: NewSecret(azurite.AccountKey)},
		"SAS token":         {AccountURL: url, SAS: NewSecret(token)},
		"SAS URL":           {AccountURL: sasURL},
	}
	for name, o := range opts {
		s, err := NewStorage(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := s.OpenDisk(ctx, c, "d.vhd")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.VirtualSize() != mib {
			t.Errorf("%s: size %d", name, d.VirtualSize())
		}
		if strings.Contains(s.URL(), "sig=") {
			t.Errorf("%s: URL() shows the SAS: %s", name, s.URL())
		}
	}
	// A wrong key is refused with a clear, permanent error.
	bad, err := NewStorage(StorageOptions{AccountURL: url, AccountKey: NewSecret("d3Jvbmc="), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.OpenDisk(ctx, c, "d.vhd"); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("wrong key: %v, want ErrAccessDenied", err)
	}
}

// A transport error carries the request URL; with SAS auth that URL holds
// the signature, which must not reach an error message.
func TestTransportErrorsDoNotShowTheSAS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	s, err := NewStorage(StorageOptions{
		AccountURL: "http://" + addr + "/acct", SAS: NewSecret("sv=2020-10-02&sig=TOPSECRETSIG"),
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.OpenDisk(context.Background(), "c", "d.vhd")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if strings.Contains(err.Error(), "TOPSECRETSIG") {
		t.Fatalf("SAS signature in error: %v", err)
	}
	if !strings.Contains(err.Error(), "redacted") {
		t.Errorf("expected the redacted URL in %v", err)
	}
}

// A Storage printed whole (%+v of the client, as a debug line might) does
// not show the credential it holds in its unexported options.
func TestStorageDoesNotPrintItsCredential(t *testing.T) {
	const key = "U1VQRVJTRUNSRVRLRVk="
	cs := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	s, err := NewStorage(StorageOptions{ConnectionString: NewSecret(cs)})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%+v", *s)} {
		if strings.Contains(out, key) {
			t.Fatalf("the account key shows: %s", out)
		}
	}
}
