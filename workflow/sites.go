package workflow

import (
	"net/url"
	"strings"

	"github.com/failback/failback/config"
)

// Sites implements Service.
func (m *Manager) Sites() SiteInfo {
	var parts []string
	if a := m.cfg.Azure; a.SubscriptionID != "" && a.Compute == config.ComputeARM {
		parts = append(parts, "subscription "+a.SubscriptionID)
	}
	if m.cfg.Azure.ResourceGroup != "" {
		parts = append(parts, "resource group "+m.cfg.Azure.ResourceGroup)
	}
	if m.cfg.UsesPageBlobs() {
		parts = append(parts, "storage account "+storageWhere(&m.cfg.Azure.Storage))
	}
	detail := strings.Join(parts, ", ")
	if m.cfg.Azure.Compute == config.ComputeLab {
		detail += " (lab)"
	}
	si := SiteInfo{Source: SiteSide{Name: m.cfg.Azure.SiteName, Kind: "azure", Detail: detail}, Stop: StopText(m.cfg.Azure.Stop)}
	for _, s := range m.cfg.Sites {
		side := SiteSide{Name: s.Name, Kind: "hyper-v", Detail: s.Description}
		for _, h := range m.cfg.Hosts {
			if h.Site == s.Name {
				side.Hosts = append(side.Hosts, h.Name)
			}
		}
		si.Target = append(si.Target, side)
	}
	return si
}

// storageWhere names the storage account and the host of its blob
// endpoint ("contoso at contoso.blob.core.windows.net"), so the operator
// confirms the direction against the account the disks really come
// from. A connection string names them only inside itself: its
// AccountName and BlobEndpoint (or EndpointSuffix) are read, and nothing
// else of it (keys and signatures) is ever shown.
func storageWhere(st *config.Storage) string {
	name, endpoint := st.AccountName, st.AccountURL
	if st.ConnectionString.IsSet() {
		cn, ce := connectionStringWhere(st.ConnectionString.Reveal())
		if name == "" {
			name = cn
		}
		if endpoint == "" {
			endpoint = ce
		}
	}
	if name == "" && endpoint != "" {
		name = (&config.Storage{AccountURL: endpoint}).Account()
	}
	host := ""
	if u, err := url.Parse(endpoint); err == nil {
		host = u.Host // never the query (a SAS) or user info
	}
	switch {
	case name == "" && host == "":
		return "(not named in config.toml)"
	case name == "":
		return "at " + host
	case host == "":
		return name
	}
	return name + " at " + host
}

// connectionStringWhere reads the account name and the blob endpoint
// from an Azure Storage connection string (key=value pairs separated by
// semicolons; Azurite's UseDevelopmentStorage=true stands for its
// well-known local account).
func connectionStringWhere(cs string) (account, endpoint string) {
	kv := map[string]string{}
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			kv[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	if strings.EqualFold(kv["usedevelopmentstorage"], "true") {
		return "devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1"
	}
	account, endpoint = kv["accountname"], kv["blobendpoint"]
	if endpoint == "" && account != "" {
		proto, suffix := kv["defaultendpointsprotocol"], kv["endpointsuffix"]
		if proto == "" {
			proto = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		endpoint = proto + "://" + account + ".blob." + suffix
	}
	return account, endpoint
}

// StopText says how Complete failover stops the Azure VMs ([azure] stop)
// and what it costs, for the summary page.
func StopText(stop string) string {
	if stop == config.StopDeallocate {
		return "deallocate ([azure] stop): no compute billing while they are off; an Undo may wait for capacity, and a dynamic public IP may change"
	}
	return "power off ([azure] stop): they stay allocated, so an Undo starts them at once, and compute is billed until commit deletes them"
}
