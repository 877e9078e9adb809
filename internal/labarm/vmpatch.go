package labarm

import (
	"net/http"
	"strings"
)

// vmPatch is the part of a VM PATCH the lab applies: disks' and NICs'
// deleteOption, and tags.
type vmPatch struct {
	Tags       map[string]*string `json:"tags"`
	Properties *struct {
		HardwareProfile *struct {
			VMSize string `json:"vmSize"`
		} `json:"hardwareProfile"`
		StorageProfile *struct {
			OSDisk *struct {
				DeleteOption string `json:"deleteOption"`
			} `json:"osDisk"`
			DataDisks *[]struct {
				Lun          *int32 `json:"lun"`
				DeleteOption string `json:"deleteOption"`
			} `json:"dataDisks"`
		} `json:"storageProfile"`
		NetworkProfile *struct {
			NetworkInterfaces []struct {
				ID         string `json:"id"`
				Properties *struct {
					DeleteOption string `json:"deleteOption"`
				} `json:"properties"`
			} `json:"networkInterfaces"`
		} `json:"networkProfile"`
	} `json:"properties"`
}

func (s *Server) patchVM(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	var req vmPatch
	if e := readBody(r, &req); e != nil {
		return e
	}
	unlock, err := s.st.lock()
	if err != nil {
		return internal(err)
	}
	defer unlock()
	vm, err := get[vmRec](s.st, kindVM, rt.rg, rt.name)
	if err != nil || vm == nil {
		if err != nil {
			return internal(err)
		}
		return notFound(rt)
	}
	if vm.Deleting {
		return errf(409, "OperationNotAllowed", "The VM '%s' is marked for deletion and cannot be updated.", vm.Name)
	}
	if req.Tags != nil {
		vm.Tags = map[string]string{}
		for k, v := range req.Tags {
			if v != nil {
				vm.Tags[k] = *v
			}
		}
	}
	if e := checkPatchOptions(req); e != nil {
		return e
	}
	if p := req.Properties; p != nil {
		if p.HardwareProfile != nil && p.HardwareProfile.VMSize != "" && !strings.EqualFold(p.HardwareProfile.VMSize, vm.Size) {
			return errf(409, "OperationNotAllowed", "The lab cannot resize VM '%s' (from %s to %s).", vm.Name, vm.Size, p.HardwareProfile.VMSize)
		}
		if sp := p.StorageProfile; sp != nil {
			if sp.OSDisk != nil && sp.OSDisk.DeleteOption != "" {
				vm.OSDisk.DeleteOption = deleteOption(sp.OSDisk.DeleteOption)
			}
			if sp.DataDisks != nil {
				if e := patchDataDisks(vm, *sp.DataDisks); e != nil {
					return e
				}
			}
		}
		if np := p.NetworkProfile; np != nil {
			for _, n := range np.NetworkInterfaces {
				for i := range vm.NICs {
					if strings.EqualFold(n.ID, s.resourceID(vm.RG, "Microsoft.Network/networkInterfaces", vm.NICs[i].Name)) && n.Properties != nil && n.Properties.DeleteOption != "" {
						vm.NICs[i].DeleteOption = deleteOption(n.Properties.DeleteOption)
					}
				}
			}
		}
	}
	if err := s.st.put(kindVM, vm.RG, vm.Name, vm); err != nil {
		return internal(err)
	}
	body := s.vmJSON(r.Context(), vm, false)
	body["properties"].(map[string]any)["provisioningState"] = "Updating"
	s.accept(w, r, rt, vm.Location, http.StatusOK, body, nil)
	return nil
}

// patchDataDisks applies the data disks' deleteOptions of a PATCH; it
// refuses attaching or detaching disks, which the lab does not do.
func patchDataDisks(vm *vmRec, disks []struct {
	Lun          *int32 `json:"lun"`
	DeleteOption string `json:"deleteOption"`
}) *apiError {
	if len(disks) != len(vm.DataDisks) {
		return errf(409, "OperationNotAllowed", "The lab does not attach or detach data disks of VM '%s' by PATCH: send all %d of its data disks.", vm.Name, len(vm.DataDisks))
	}
	for _, d := range disks {
		found := false
		for i := range vm.DataDisks {
			if d.Lun != nil && vm.DataDisks[i].LUN == *d.Lun {
				found = true
				if d.DeleteOption != "" {
					vm.DataDisks[i].DeleteOption = deleteOption(d.DeleteOption)
				}
			}
		}
		if !found {
			return errf(409, "OperationNotAllowed", "VM '%s' has no data disk at that LUN; the lab does not attach disks by PATCH.", vm.Name)
		}
	}
	return nil
}

// checkPatchOptions refuses a deleteOption that is neither Delete nor
// Detach, as Compute does.
func checkPatchOptions(req vmPatch) *apiError {
	var opts []string
	if p := req.Properties; p != nil {
		if sp := p.StorageProfile; sp != nil {
			if sp.OSDisk != nil {
				opts = append(opts, sp.OSDisk.DeleteOption)
			}
			if sp.DataDisks != nil {
				for _, d := range *sp.DataDisks {
					opts = append(opts, d.DeleteOption)
				}
			}
		}
		if np := p.NetworkProfile; np != nil {
			for _, n := range np.NetworkInterfaces {
				if n.Properties != nil {
					opts = append(opts, n.Properties.DeleteOption)
				}
			}
		}
	}
	for _, o := range opts {
		if _, ok := parseDeleteOption(o); !ok {
			return errf(400, "InvalidParameter", "The value '%s' of deleteOption is not valid: use Delete or Detach.", o)
		}
	}
	return nil
}
