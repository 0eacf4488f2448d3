package sdmuxtest

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/sdmux"
)

// Conformance checks s against the dut.Storage contract. The DUT must be
// powered off.
func Conformance(t *testing.T, s dut.Storage) {
	t.Helper()
	ctx := t.Context()
	tg, err := s.Open(ctx)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	a := bytes.Repeat([]byte("leviathan-A\n"), 342)[:4096]
	b := bytes.Repeat([]byte{0x5a, 0xa5}, 2048)
	if _, err := tg.WriteAt(a, 0); err != nil {
		t.Fatalf("WriteAt(0): %v", err)
	}
	if _, err := tg.WriteAt(b, 8192); err != nil {
		t.Fatalf("WriteAt(8192): %v", err)
	}
	if err := tg.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	got := make([]byte, len(b))
	if _, err := tg.ReadAt(got, 8192); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("ReadAt(8192) = %x…, %v; want what was written", got[:8], err)
	}
	if _, err := tg.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	got = make([]byte, len(a))
	if _, err := io.ReadFull(tg, got); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("Read after Seek(0) = %q…, %v; want what was written", got[:12], err)
	}
	if _, err := tg.Stat(); err != nil {
		t.Errorf("Stat: %v", err)
	}

	// A second Open must fail, not block.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	second, err := s.Open(cctx)
	expired := cctx.Err() != nil
	cancel()
	if err == nil {
		second.Close()
		t.Fatal("a second Open while the target is open succeeded")
	}
	if expired {
		t.Fatalf("a second Open blocked until its context expired: %v", err)
	}

	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tg, err = s.Open(ctx)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// FakeMux is a mux for tests. It logs switches; with Node set it creates
// Node (Size bytes, when missing) on a switch to the host, as a card reader's
// node appears, and hides it again on a switch to the DUT.
type FakeMux struct {
	Node string
	Size int64

	mu       sync.Mutex
	switches []sdmux.Side
}

var _ sdmux.Mux = (*FakeMux)(nil)

// Switch implements sdmux.Mux.
func (m *FakeMux) Switch(ctx context.Context, to sdmux.Side) error {
	m.mu.Lock()
	m.switches = append(m.switches, to)
	m.mu.Unlock()
	if m.Node == "" {
		return nil
	}
	hidden := m.Node + ".dut"
	switch to {
	case sdmux.Host:
		if err := os.Rename(hidden, m.Node); err != nil && !os.IsNotExist(err) {
			return err
		}
		f, err := os.OpenFile(m.Node, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, _ := f.Stat(); fi.Size() < m.Size {
			return f.Truncate(m.Size)
		}
	case sdmux.DUT:
		if err := os.Rename(m.Node, hidden); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// Switches lists the switches so far.
func (m *FakeMux) Switches() []sdmux.Side {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdmux.Side(nil), m.switches...)
}
