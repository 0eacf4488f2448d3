package qemukit

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

var (
	kvmOnce sync.Once
	kvmOK   bool
)

// KVMWorks reports whether QEMU can start with KVM here. A /dev/kvm that
// exists can still hang under nested virtualisation, so it starts QEMU with
// KVM and asks it to quit, with a short timeout. The answer is cached.
func KVMWorks(qemu string) bool {
	kvmOnce.Do(func() {
		if _, err := os.Stat("/dev/kvm"); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, qemu, "-accel", "kvm", "-machine", "none", "-nodefaults",
			"-display", "none", "-monitor", "stdio")
		cmd.Stdin = strings.NewReader("quit\n")
		kvmOK = cmd.Run() == nil && ctx.Err() == nil
	})
	return kvmOK
}
