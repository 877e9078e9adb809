package labarm

import (
	"context"
	"net/http"
	"strings"

	"github.com/failback/failback/azure"
)

func (s *Server) vmID(vm *vmRec) string {
	return s.resourceID(vm.RG, "Microsoft.Compute/virtualMachines", vm.Name)
}

// vmByID finds a VM by its ARM id (nil if there is none).
func (s *Server) vmByID(id string) *vmRec {
	rid, err := azure.ParseResourceID(id)
	if err != nil || checkNames(rid.ResourceGroup, rid.Name) != nil {
		return nil
	}
	vm, _ := get[vmRec](s.st, kindVM, rid.ResourceGroup, rid.Name)
	return vm
}

// profileDisk is one disk of the VM's storage profile
// (VirtualMachine_Get.json; vhd as in
// VirtualMachine_Create_PlatformImageVmWithUnmanagedOsAndDataDisks.json).
func (s *Server) profileDisk(vm *vmRec, d vmDisk, os bool) map[string]any {
	m := map[string]any{"name": d.Name, "createOption": "Attach", "caching": "ReadWrite",
		"diskSizeGB": diskGB(d.SizeBytes), "deleteOption": d.DeleteOption}
	if os {
		m["osType"] = vm.OSType
	} else {
		m["lun"], m["caching"], m["toBeDetached"] = d.LUN, "None", false
	}
	if d.Managed {
		m["managedDisk"] = map[string]any{"id": s.resourceID(vm.RG, "Microsoft.Compute/disks", d.Name), "storageAccountType": d.SKU}
	} else {
		m["vhd"] = map[string]any{"uri": s.o.BlobURL + "/" + d.Container + "/" + d.Blob}
	}
	return m
}

// vmJSON is a VM as Compute answers a Get (VirtualMachine_Get.json).
func (s *Server) vmJSON(ctx context.Context, vm *vmRec, expand bool) map[string]any {
	data := []any{}
	for _, d := range vm.DataDisks {
		data = append(data, s.profileDisk(vm, d, false))
	}
	nics := []any{}
	for _, n := range vm.NICs {
		nics = append(nics, map[string]any{"id": s.resourceID(vm.RG, "Microsoft.Network/networkInterfaces", n.Name),
			"properties": map[string]any{"primary": n.Primary, "deleteOption": n.DeleteOption}})
	}
	state := "Succeeded"
	if vm.Deleting {
		state = "Deleting"
	}
	props := map[string]any{
		"vmId":            vm.VMID,
		"hardwareProfile": map[string]any{"vmSize": vm.Size},
		"storageProfile": map[string]any{"osDisk": s.profileDisk(vm, vm.OSDisk, true), "dataDisks": data,
			"diskControllerType": "SCSI"},
		"osProfile":         map[string]any{"computerName": vm.Name, "adminUsername": "labadmin", "secrets": []any{}},
		"networkProfile":    map[string]any{"networkInterfaces": nics},
		"provisioningState": state,
		"timeCreated":       armTime(vm.Created),
	}
	if expand {
		props["instanceView"] = s.instanceView(ctx, vm)
	}
	m := map[string]any{"id": s.vmID(vm), "name": vm.Name, "type": "Microsoft.Compute/virtualMachines",
		"location": vm.Location, "properties": props}
	if len(vm.Tags) > 0 {
		m["tags"] = vm.Tags
	}
	return m
}

func status(code, display, at string) map[string]any {
	m := map[string]any{"code": code, "level": "Info", "displayStatus": display}
	if at != "" {
		m["time"] = at
	}
	return m
}

// instanceView is the VM's instance view (VirtualMachine_Get_InstanceView.json):
// its provisioning and power state, the latter LabCompute's.
func (s *Server) instanceView(ctx context.Context, vm *vmRec) map[string]any {
	created := armTime(vm.Created)
	disks := []any{}
	for _, d := range append([]vmDisk{vm.OSDisk}, vm.DataDisks...) {
		disks = append(disks, map[string]any{"name": d.Name,
			"statuses": []any{status("ProvisioningState/succeeded", "Provisioning succeeded", created)}})
	}
	statuses := []any{status("ProvisioningState/succeeded", "Provisioning succeeded", created)}
	if vm.Deleting {
		statuses[0] = status("ProvisioningState/deleting", "Deleting", "")
	}
	if p, err := s.o.Compute.State(ctx, vm.ComputeName); err == nil && p != azure.PowerUnknown {
		statuses = append(statuses, status("PowerState/"+string(p), "VM "+string(p), ""))
	}
	return map[string]any{"computerName": vm.Name, "hyperVGeneration": "V1", "disks": disks, "statuses": statuses}
}

func (s *Server) serveVM(w http.ResponseWriter, r *http.Request, rt route) *apiError {
	if rt.name == "" {
		if r.Method != http.MethodGet {
			return methodNotAllowed(r, rt)
		}
		vms, err := list[vmRec](s.st, kindVM, rt.rg)
		if err != nil {
			return internal(err)
		}
		items := make([]any, 0, len(vms))
		for _, vm := range vms {
			items = append(items, s.vmJSON(r.Context(), vm, false))
		}
		return s.page(w, r, items)
	}
	vm, err := get[vmRec](s.st, kindVM, rt.rg, rt.name)
	if err != nil {
		return internal(err)
	}
	if vm == nil {
		if r.Method == http.MethodDelete && rt.action == "" {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return notFound(rt)
	}
	act := strings.ToLower(rt.action)
	switch {
	case r.Method == http.MethodGet && act == "":
		writeJSON(w, 200, s.vmJSON(r.Context(), vm, strings.EqualFold(r.URL.Query().Get("$expand"), "instanceView")))
		return nil
	case r.Method == http.MethodGet && act == "instanceview":
		writeJSON(w, 200, s.instanceView(r.Context(), vm))
		return nil
	case r.Method == http.MethodPost && (act == "poweroff" || act == "deallocate" || act == "start"):
		return s.power(w, r, rt, vm, act)
	case r.Method == http.MethodDelete && act == "":
		return s.deleteVM(w, r, rt, vm)
	case r.Method == http.MethodPatch && act == "":
		return s.patchVM(w, r, rt)
	}
	return methodNotAllowed(r, rt)
}

// power powers a VM off, deallocates or starts it through LabCompute: a
// power off completes once the VM's writer stopped writing.
func (s *Server) power(w http.ResponseWriter, r *http.Request, rt route, vm *vmRec, act string) *apiError {
	if vm.Deleting {
		return errf(409, "OperationNotAllowed", "Operation '%s' is not allowed since the VM '%s' is marked for deletion.", rt.action, vm.Name)
	}
	p, err := s.o.Compute.State(r.Context(), vm.ComputeName)
	if err != nil {
		return internal(err)
	}
	lc := s.o.Compute
	var run work
	switch act {
	case "poweroff":
		if p == azure.PowerDeallocated {
			return errf(409, "OperationNotAllowed", "Operation 'powerOff' is not allowed on VM '%s' since the VM is deallocated or marked to be deallocated.", vm.Name)
		}
		run = func(ctx context.Context) (any, *apiError) { return nil, asAPIError(lc.PowerOff(ctx, vm.ComputeName)) }
	case "deallocate":
		run = func(ctx context.Context) (any, *apiError) {
			return nil, asAPIError(azure.LabVMs{LabCompute: lc}.PowerOff(ctx, azure.VMRef{Name: vm.ComputeName}, azure.PowerOffOptions{Deallocate: true}))
		}
	default:
		run = func(ctx context.Context) (any, *apiError) { return nil, asAPIError(lc.Start(ctx, vm.ComputeName)) }
	}
	done, e := s.busy(vm, rt.action)
	if e != nil {
		return e
	}
	s.accept(w, r, rt, vm.Location, http.StatusAccepted, nil, func(ctx context.Context) (any, *apiError) {
		defer done()
		return run(ctx)
	})
	return nil
}

// busy marks an operation on the VM in flight, or refuses it while
// another one runs (LabCompute changes one VM one step at a time).
func (s *Server) busy(vm *vmRec, op string) (done func(), e *apiError) {
	key := strings.ToLower(vm.ComputeName)
	s.opsMu.Lock()
	defer s.opsMu.Unlock()
	if cur, ok := s.vmBusy[key]; ok {
		return nil, errf(409, "OperationNotAllowed", "Operation '%s' is not allowed on VM '%s' while operation '%s' is in progress; retry when it ends.", op, vm.Name, cur)
	}
	s.vmBusy[key] = op
	return func() {
		s.opsMu.Lock()
		delete(s.vmBusy, key)
		s.opsMu.Unlock()
	}, nil
}

// asAPIError is a failed power operation.
func asAPIError(err error) *apiError {
	if err == nil {
		return nil
	}
	return errf(500, "InternalExecutionError", "The lab VM did not complete the operation: %v", err)
}

// deleteVM deletes the VM as Azure does: its writer stops, then managed
// disks and NICs whose deleteOption is Delete go with it, the others are
// detached (disks Unattached). Unmanaged disks stay in the storage account.
func (s *Server) deleteVM(w http.ResponseWriter, r *http.Request, rt route, vm *vmRec) *apiError {
	done, e := s.busy(vm, "delete")
	if e != nil {
		return e
	}
	if err := s.markDeleting(vm.RG, vm.Name, true); err != nil {
		done()
		return internal(err)
	}
	s.accept(w, r, rt, vm.Location, http.StatusAccepted, nil, func(ctx context.Context) (any, *apiError) {
		defer done()
		if err := s.o.Compute.Delete(ctx, vm.ComputeName); err != nil {
			_ = s.markDeleting(vm.RG, vm.Name, false)
			return nil, asAPIError(err)
		}
		if err := s.removeVM(ctx, vm.RG, vm.Name); err != nil {
			return nil, internal(err)
		}
		return nil, nil
	})
	return nil
}

// markDeleting records that the VM is being deleted (or, after a failed
// delete, no longer is).
func (s *Server) markDeleting(rg, name string, on bool) error {
	unlock, err := s.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	vm, err := get[vmRec](s.st, kindVM, rg, name)
	if err != nil || vm == nil {
		return err
	}
	vm.Deleting = on
	return s.st.put(kindVM, vm.RG, vm.Name, vm)
}

// removeVM drops a deleted VM's record and applies its deleteOptions.
func (s *Server) removeVM(ctx context.Context, rg, name string) error {
	unlock, err := s.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	vm, err := get[vmRec](s.st, kindVM, rg, name)
	if err != nil || vm == nil {
		return err
	}
	for _, d := range append([]vmDisk{vm.OSDisk}, vm.DataDisks...) {
		if !d.Managed {
			continue
		}
		rec, err := get[diskRec](s.st, kindDisk, vm.RG, d.Name)
		if err != nil || rec == nil {
			if err != nil {
				return err
			}
			continue
		}
		if d.DeleteOption == "Delete" {
			if err := s.st.del(kindDisk, rec.RG, rec.Name); err != nil {
				return err
			}
			if err := s.deleteDiskBlob(ctx, rec.Container, rec.Blob); err != nil {
				return err
			}
			continue
		}
		rec.ManagedBy = ""
		if err := s.st.put(kindDisk, rec.RG, rec.Name, rec); err != nil {
			return err
		}
	}
	for _, n := range vm.NICs {
		if err := s.releaseNIC(vm.RG, n.Name, n.DeleteOption == "Delete"); err != nil {
			return err
		}
	}
	return s.st.del(kindVM, vm.RG, vm.Name)
}
