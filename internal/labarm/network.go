package labarm

import (
	"net/http"
)

func (s *Server) nicID(n *nicRec) string {
	return s.resourceID(n.RG, "Microsoft.Network/networkInterfaces", n.Name)
}

func (s *Server) pipID(p *pipRec) string {
	return s.resourceID(p.RG, "Microsoft.Network/publicIPAddresses", p.Name)
}

// nicJSON is a NIC as Network answers it (NetworkInterfaceGet.json).
func (s *Server) nicJSON(n *nicRec) map[string]any {
	id := s.nicID(n)
	ipc := map[string]any{"provisioningState": "Succeeded", "privateIPAddress": n.PrivateIP, "privateIPAllocationMethod": "Dynamic",
		"primary": true, "privateIPAddressVersion": "IPv4"}
	if n.PublicIP != "" {
		ipc["publicIPAddress"] = map[string]any{"id": n.PublicIP}
	}
	props := map[string]any{
		"provisioningState": "Succeeded",
		"ipConfigurations":  []any{map[string]any{"name": "ipconfig1", "id": id + "/ipConfigurations/ipconfig1", "properties": ipc}},
		"macAddress":        n.MAC, "enableAcceleratedNetworking": false, "enableIPForwarding": false,
	}
	if n.VM != "" {
		props["primary"] = true
		props["virtualMachine"] = map[string]any{"id": n.VM}
	}
	return map[string]any{"id": id, "name": n.Name, "type": "Microsoft.Network/networkInterfaces", "location": n.Location, "properties": props}
}

// pipJSON is a public IP as Network answers it (PublicIpAddressGet.json).
func (s *Server) pipJSON(p *pipRec) map[string]any {
	props := map[string]any{"provisioningState": "Succeeded", "publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static",
		"ipAddress": p.Address, "idleTimeoutInMinutes": 4}
	if p.IPConfig != "" {
		props["ipConfiguration"] = map[string]any{"id": p.IPConfig}
	}
	return map[string]any{"id": s.pipID(p), "name": p.Name, "type": "Microsoft.Network/publicIPAddresses", "location": p.Location, "properties": props}
}

// serveNetwork answers GET and DELETE of NICs and public IPs.
func (s *Server) serveNetwork(w http.ResponseWriter, r *http.Request, rt route, kind string) *apiError {
	if rt.name == "" || rt.action != "" || (r.Method != http.MethodGet && r.Method != http.MethodDelete) {
		return methodNotAllowed(r, rt)
	}
	if r.Method == http.MethodGet {
		var body map[string]any
		if kind == kindNIC {
			n, err := get[nicRec](s.st, kindNIC, rt.rg, rt.name)
			if err != nil {
				return internal(err)
			}
			if n != nil {
				body = s.nicJSON(n)
			}
		} else {
			p, err := get[pipRec](s.st, kindPIP, rt.rg, rt.name)
			if err != nil {
				return internal(err)
			}
			if p != nil {
				body = s.pipJSON(p)
			}
		}
		if body == nil {
			return notFound(rt)
		}
		writeJSON(w, 200, body)
		return nil
	}
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	var loc string
	if kind == kindNIC {
		n, err := get[nicRec](s.st, kindNIC, rt.rg, rt.name)
		if err != nil || n == nil {
			return noneToDelete(w, err)
		}
		if n.VM != "" {
			return errf(400, "NicInUse", "Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource.", s.nicID(n), n.VM)
		}
		if err := s.releaseNIC(n.RG, n.Name, true); err != nil {
			return internal(err)
		}
		loc = n.Location
	} else {
		p, err := get[pipRec](s.st, kindPIP, rt.rg, rt.name)
		if err != nil || p == nil {
			return noneToDelete(w, err)
		}
		if p.IPConfig != "" {
			return errf(400, "PublicIPAddressInUse", "Public IP address %s can not be deleted since it is still allocated to resource %s. In order to delete the public IP, disassociate/detach the Public IP address from the resource.", s.pipID(p), p.IPConfig)
		}
		if err := s.st.del(kindPIP, p.RG, p.Name); err != nil {
			return internal(err)
		}
		loc = p.Location
	}
	s.accept(w, r, rt, loc, http.StatusAccepted, nil, nil)
	return nil
}

// noneToDelete answers a DELETE of a resource that is not there: 204, as
// ARM does.
func noneToDelete(w http.ResponseWriter, err error) *apiError {
	if err != nil {
		return internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// releaseNIC detaches a NIC from its VM, or with del deletes it: its
// public IP goes too when its deleteOption says Delete and the VM went,
// else it is dissociated. Call with the lock held.
func (s *Server) releaseNIC(rg, name string, del bool) error {
	n, err := get[nicRec](s.st, kindNIC, rg, name)
	if err != nil || n == nil {
		return err
	}
	vmGone := n.VM != ""
	n.VM = ""
	if !del {
		return s.st.put(kindNIC, n.RG, n.Name, n)
	}
	if n.PublicIP != "" {
		p := s.pipByID(n.PublicIP)
		switch {
		case p == nil:
		case vmGone && n.PublicIPDeleteOption == "Delete":
			if err := s.st.del(kindPIP, p.RG, p.Name); err != nil {
				return err
			}
		default:
			p.IPConfig = ""
			if err := s.st.put(kindPIP, p.RG, p.Name, p); err != nil {
				return err
			}
		}
	}
	return s.st.del(kindNIC, n.RG, n.Name)
}

// pipByID finds a public IP by its ARM id (nil if there is none).
func (s *Server) pipByID(id string) *pipRec {
	rt, ok := parseRoute(id)
	if !ok || rt.name == "" || checkNames(rt.rg, rt.name) != nil {
		return nil
	}
	p, _ := get[pipRec](s.st, kindPIP, rt.rg, rt.name)
	return p
}
