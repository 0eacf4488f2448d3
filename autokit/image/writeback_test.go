package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

func TestWriteback(t *testing.T) {
	var started []span
	wb := &writeback{start: func(off, n int64) { started = append(started, span{off, off + n}) }}
	const mib = 1 << 20
	wb.wrote(0, 10*mib)
	wb.wrote(12*mib, 4*mib) // 14 MiB waiting, over 0-16 MiB
	wb.wrote(20*mib, 3*mib) // 17 MiB: started
	wb.wrote(30*mib, 8*mib)
	wb.wrote(40*mib, 0)
	if want := []span{{0, 23 * mib}}; !slices.Equal(started, want) {
		t.Fatalf("started %v, want %v", started, want)
	}
	wb.wrote(24*mib, 8*mib) // below the last write: the stretch widens
	if want := []span{{0, 23 * mib}, {24 * mib, 38 * mib}}; !slices.Equal(started, want) {
		t.Fatalf("started %v, want %v", started, want)
	}
	var none *writeback
	none.wrote(0, 64*mib) // no descriptor: nothing to do, no panic
}

// TestWritebackTargets: writeback is started on a file target and on
// nothing else; a dense image larger than writebackEvery is written whole.
func TestWritebackTargets(t *testing.T) {
	f := newFile(t)
	if newWriteback(f) == nil || newWriteback(zeroedFile{f}) == nil {
		t.Error("no writeback for a file target")
	}
	if newWriteback(deviceTarget{f}) != nil {
		t.Error("writeback for a target without a descriptor")
	}
	img := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 6<<20)
	img[510], img[511] = 0x55, 0xaa
	p := filepath.Join(t.TempDir(), "dense")
	dst, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := Flash(context.Background(), zeroedFile{dst}, bytes.NewReader(compress(t, Zstd, img)), Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, img) {
		t.Fatal("the target differs from the image")
	}
}

// gatedSync is a target whose Sync waits, up to a while, for verifying to
// close, and records when it returned; with file, it offers its
// descriptor (read through the page cache), without, it offers none.
type gatedSync struct {
	dut.Target
	file      *os.File
	verifying chan struct{}
	syncErr   error
	synced    bool
}

func (g *gatedSync) OSFile() *os.File { return g.file }

func (g *gatedSync) Sync() error {
	select {
	case <-g.verifying:
	case <-time.After(200 * time.Millisecond):
	}
	g.synced = true
	return g.syncErr
}

// TestSyncAndVerify: a target read through the page cache is verified
// while it syncs, any other once synced, and either's error fails the
// flash.
func TestSyncAndVerify(t *testing.T) {
	eio := errors.New("EIO")
	bad := &ChecksumError{What: "the target", Want: "a", Got: "b"}
	for _, tc := range []struct {
		name             string
		descriptor       bool
		syncErr, verErr  error
		wantErr          error
		wantVerified     bool
		wantSyncedBefore bool // verify saw the sync done
	}{
		{"page cache: verified during the sync", true, nil, nil, nil, true, false},
		{"no descriptor: verified after the sync", false, nil, nil, nil, true, true},
		{"page cache: the sync fails", true, eio, nil, eio, false, false},
		{"page cache: verify fails", true, nil, bad, bad, false, false},
		{"no descriptor: the sync fails, no verify", false, eio, nil, eio, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "target"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g := &gatedSync{Target: f, verifying: make(chan struct{}), syncErr: tc.syncErr}
			if tc.descriptor {
				g.file = f
			}
			var sawSynced, ran bool
			verified, _, err := syncAndVerify(g, true, func() error {
				ran, sawSynced = true, g.synced
				close(g.verifying)
				return tc.verErr
			})
			if !errors.Is(err, tc.wantErr) || verified != tc.wantVerified {
				t.Fatalf("verified %v, err %v; want %v, %v", verified, err, tc.wantVerified, tc.wantErr)
			}
			if ran && sawSynced != tc.wantSyncedBefore {
				t.Errorf("verify ran with the sync done: %v, want %v", sawSynced, tc.wantSyncedBefore)
			}
		})
	}
}
