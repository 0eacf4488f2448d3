package qemukit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// warmProcess is the QEMU started during a flash, or nil.
func (d *DUT) warmProcess() *running {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.warm
}

// flashPattern opens d's disk (starting QEMU beside it), waits until
// QEMU has opened the disk too (the worst case: QEMU then sees the file
// as the flash left it when opening), writes a 64 KiB pattern at 1 MiB and
// closes it. It returns the QEMU started beside the flash (taken right
// after Open: it may have ended by the time the flash is done).
func flashPattern(t *testing.T, ctx context.Context, d *DUT) *running {
	t.Helper()
	tgt, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := d.warmProcess()
	if w != nil {
		<-w.ready
	}
	if _, err := tgt.WriteAt(bytes.Repeat([]byte{0xab}, 64<<10), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

func waitExited(t *testing.T, r *running, why string) {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the QEMU started during the flash still runs %s", why)
	}
}

// TestWarmQEMUSeesTheFlash: the QEMU started while the disk is flashed is
// the one On runs, and it reads the disk as the flash left it, though it
// opened the file before the flash wrote it; the DUT reads as off until
// then.
func TestWarmQEMUSeesTheFlash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU; skipped with -short")
	}
	d := newTestDUT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	flashPattern(t, ctx, d)
	w := d.warmProcess()
	if w == nil {
		t.Fatal("no QEMU was started during the flash")
	}
	flashPattern(t, ctx, d) // once more, over a disk QEMU has open
	if d.warmProcess() != w {
		t.Fatal("a second flash started another QEMU instead of keeping the first")
	}
	if st, _ := d.State(ctx); st != dut.PowerOff {
		t.Fatalf("state = %s with QEMU only started, want off", st)
	}
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := d.running()
	if err != nil || r != w {
		t.Fatalf("On ran %p (%v), not the QEMU started during the flash %p", r, err, w)
	}
	// qemu-io reads through QEMU's own block layer and prints to QEMU's
	// output; a pattern it does not find is reported there.
	for _, cmd := range []string{"read -P 0xab 1M 64k", "read -P 0 0 1M", "read -P 0xcd 1M 4k"} {
		var out string
		if err := r.qmp.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "qemu-io disk0 \"" + cmd + "\""}, &out); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.ReadFile(filepath.Join(d.cfg.Dir, "qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"read 65536/65536 bytes at offset 1048576\n",    // the pattern…
		"read 1048576/1048576 bytes at offset 0\n",      // …and zeros before it,
		"Pattern verification failed at offset 1048576", // and the check's own test: 0xcd is not there
	}
	for _, w := range want {
		if !strings.Contains(string(log), w) {
			t.Errorf("QEMU's reads of the flashed disk do not say %q:\n%s", w, log)
		}
	}
	if n := strings.Count(string(log), "Pattern verification failed"); n != 1 {
		t.Errorf("%d pattern failures, want only the 0xcd one:\n%s", n, log)
	}
	var blocks []struct {
		Device   string `json:"qdev"`
		Inserted *struct {
			Image struct {
				Size int64 `json:"virtual-size"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := r.qmp.Execute(ctx, "query-block", nil, &blocks); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range blocks {
		if b.Inserted != nil && b.Inserted.Image.Size == d.cfg.DiskSize {
			found = true
		}
	}
	if !found {
		t.Fatalf("QEMU has no disk of %d bytes: %+v", d.cfg.DiskSize, blocks)
	}
}

// TestWarmQEMUEnds: a QEMU started during a flash does not outlive a
// power-off, the DUT's close, or its wait for a power-on.
func TestWarmQEMUEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	d := newTestDUT(t)
	flashPattern(t, ctx, d)
	w := d.warmProcess()
	if w == nil {
		t.Fatal("no QEMU was started during the flash")
	}
	if err := d.Off(ctx); err != nil {
		t.Fatal(err)
	}
	waitExited(t, w, "after Off")
	if d.warmProcess() != nil {
		t.Fatal("the DUT still holds the QEMU that Off ended")
	}

	flashPattern(t, ctx, d)
	w = d.warmProcess()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	waitExited(t, w, "after the DUT closed")

	old := warmLife
	warmLife = 200 * time.Millisecond
	t.Cleanup(func() { warmLife = old })
	d = newTestDUT(t)
	if w = flashPattern(t, ctx, d); w == nil {
		t.Fatal("no QEMU was started during the flash")
	}
	waitExited(t, w, "long after its wait for a power-on")
	if d.warmProcess() != nil {
		t.Fatal("the DUT still holds the QEMU that expired")
	}
	// On starts QEMU afresh.
	if err := d.On(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := d.running(); err != nil || r == w {
		t.Fatalf("On ran %p (%v), the expired QEMU %p", r, err, w)
	}
}
