package qemukit

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/balena/leviathan-action/internal/syncio"
)

var (
	kvmOnce sync.Once
	kvmOK   bool
)

// kvmProbeTimeout bounds the KVM probe; OVMF speaks on the serial line
// well within it when KVM runs guest code.
const kvmProbeTimeout = 15 * time.Second

// KVMWorks reports whether QEMU can run a guest with KVM here. A /dev/kvm
// that exists can still fail under nested virtualisation — QEMU starts,
// then hangs or stops at the guest's first instructions with "KVM internal
// error" — so the probe boots the OVMF firmware with KVM and waits for it
// to print on the serial line. The answer is cached for the process.
func KVMWorks(qemu string) bool {
	kvmOnce.Do(func() {
		if _, err := os.Stat("/dev/kvm"); err != nil {
			return
		}
		code, vars, err := FindFirmware()
		if err != nil {
			return
		}
		kvmOK = probeKVM(qemu, code, vars)
	})
	return kvmOK
}

// probeKVM boots OVMF under KVM and reports whether it printed anything on
// its serial line before QEMU complained, exited or the timeout passed.
func probeKVM(qemu, code, varsTmpl string) bool {
	dir, err := os.MkdirTemp("", "leviathan-kvm-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	vars := filepath.Join(dir, "vars.fd")
	if b, err := os.ReadFile(varsTmpl); err != nil || os.WriteFile(vars, b, 0o600) != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvmProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "kvm", "-machine", "q35", "-m", "128",
		"-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
		"-drive", "if=pflash,format=raw,unit=1,file="+vars,
		"-serial", "stdio")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false
	}
	stderr := &syncio.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return false
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	spoke := make(chan bool, 1)
	go func() {
		var b [1]byte
		_, err := io.ReadFull(stdout, b[:])
		spoke <- err == nil
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ok := <-spoke:
			return ok && !strings.Contains(stderr.String(), "KVM internal error")
		case <-tick.C:
			if strings.Contains(stderr.String(), "internal error") {
				return false
			}
		case <-ctx.Done():
			return false
		}
	}
}
