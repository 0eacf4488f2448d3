package worker_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/klauspost/compress/zstd"
)

func gz(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func hexSHA(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func TestFlash(t *testing.T) {
	img := duttest.GPTImage(3 << 20)
	for _, tc := range []struct {
		name   string
		body   []byte
		format string
		sha    string
	}{
		{"raw", img, "raw", ""},
		{"gzip", gz(t, img), "gzip", ""},
		{"gzip with sha256", gz(t, img), "gzip", hexSHA(img)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.leased(t)
			ctx := ctxT(t, 20*time.Second)
			var sent atomic.Int64
			res, err := c.Flash(ctx, bytes.NewReader(tc.body), int64(len(tc.body)), tc.sha, func(n int64) { sent.Store(n) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format || res.ImageBytes != int64(len(img)) || res.SHA256 != hexSHA(img) ||
				res.Written+res.Skipped != int64(len(img)) || res.Skipped == 0 {
				t.Fatalf("result = %+v", res)
			}
			if sent.Load() != int64(len(tc.body)) {
				t.Errorf("progress reported %d bytes sent; want %d", sent.Load(), len(tc.body))
			}
			got, err := os.ReadFile(e.d.Disk())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, img) {
				t.Fatalf("the disk holds %d bytes that differ from the %d-byte image", len(got), len(img))
			}
			st, err := c.FlashStatus(ctx)
			if err != nil || st.State != api.FlashDone || st.DoneBytes != int64(len(img)) || st.Result == nil || st.Result.SHA256 != res.SHA256 {
				t.Fatalf("FlashStatus = %+v, %v", st, err)
			}
		})
	}
}

func TestFlashFailures(t *testing.T) {
	img := duttest.GPTImage(256 << 10)
	junk := make([]byte, 200<<10)
	rand.Read(junk)
	bigJunk := make([]byte, 16<<20) // refused long before it is all sent
	rand.Read(bigJunk)
	corrupt := gz(t, img)[:4<<10]
	for _, tc := range []struct {
		name      string
		poweredOn bool
		body      []byte
		sha       string
		code      api.ErrorCode
		want      string
		state     string // flash state afterwards
	}{
		{name: "powered on", poweredOn: true, body: img, code: api.CodePoweredOn, want: "powered on", state: api.FlashIdle},
		{name: "random bytes", body: junk, code: api.CodeNotDiskImage, want: "not a disk image", state: api.FlashFailed},
		{name: "large random upload", body: bigJunk, code: api.CodeNotDiskImage, want: "not a disk image", state: api.FlashFailed},
		{name: "truncated gzip", body: corrupt, code: api.CodeBadImage, want: "gzip", state: api.FlashFailed},
		{name: "sha256 mismatch", body: gz(t, img), sha: hexSHA([]byte("other")), code: api.CodeChecksumMismatch, want: "SHA-256 is " + hexSHA(img), state: api.FlashFailed},
		{name: "bad sha256", body: img, sha: "xyz", code: api.CodeBadRequest, want: "not a hex SHA-256", state: api.FlashIdle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.leased(t)
			ctx := ctxT(t, 20*time.Second)
			if tc.poweredOn {
				if err := c.PowerOn(ctx); err != nil {
					t.Fatal(err)
				}
			}
			_, err := c.Flash(ctx, bytes.NewReader(tc.body), int64(len(tc.body)), tc.sha, nil)
			wantCode(t, err, tc.code, tc.want)
			st, err := c.FlashStatus(ctx)
			if err != nil || st.State != tc.state {
				t.Fatalf("FlashStatus = %+v, %v; want state %s", st, err, tc.state)
			}
			if tc.state == api.FlashFailed && (st.Error == "" || st.ErrorCode != tc.code) {
				t.Fatalf("a failed flash records error %q, code %q; want code %q", st.Error, st.ErrorCode, tc.code)
			}
		})
	}
}

func TestFlashProvision(t *testing.T) {
	var got []byte
	provision := func(ctx context.Context, tg dut.Target) error {
		got = make([]byte, 8)
		if _, err := tg.ReadAt(got, 512); err != nil {
			return err
		}
		_, err := tg.WriteAt([]byte("config.json"), 4096)
		return err
	}
	e := newEnv(t, worker.WithProvision(provision))
	c := e.leased(t)
	img := duttest.GPTImage(128 << 10)
	if _, err := c.Flash(ctxT(t, 10*time.Second), bytes.NewReader(img), 0, "", nil); err != nil {
		t.Fatal(err)
	}
	if string(got) != "EFI PART" {
		t.Fatalf("provision read %q at LBA 1; want the flashed GPT header", got)
	}
	disk, _ := os.ReadFile(e.d.Disk())
	if !bytes.Equal(disk[4096:4096+11], []byte("config.json")) {
		t.Fatal("provision's write is not on the disk")
	}

	failing := newEnv(t, worker.WithProvision(func(context.Context, dut.Target) error { return errors.New("no room") }))
	fc := failing.leased(t)
	_, err := fc.Flash(ctxT(t, 10*time.Second), bytes.NewReader(img), 0, "", nil)
	wantStatus(t, err, http.StatusInternalServerError, "provisioning", "no room")
	if st, _ := fc.FlashStatus(ctxT(t, 5*time.Second)); st.State != api.FlashFailed {
		t.Fatalf("a flash whose provisioning failed is %q", st.State)
	}
}

func TestPowerOnRefusedWhileFlashing(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	ctx := ctxT(t, 10*time.Second)
	img := duttest.GPTImage(2 << 20)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.Flash(ctx, pr, 0, "", nil)
		done <- err
	}()
	pw.Write(img[:1<<20])
	eventually(t, "the flash to start", func() bool {
		st, err := c.FlashStatus(ctx)
		return err == nil && st.State == api.FlashFlashing
	})
	wantStatus(t, c.PowerOn(ctx), http.StatusConflict, "flash is in progress")
	pw.Write(img[1<<20:])
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := c.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFlashSparseUpload sends a raw image file as a zstd frame of its
// data and run-length zeros (Content-Encoding: zstd): the worker undoes
// the coding, so the image is still "raw", its SHA-256 is the file's and
// progress counts against the image's size.
func TestFlashSparseUpload(t *testing.T) {
	img := duttest.GPTImage(3 << 20)
	path := filepath.Join(t.TempDir(), "img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    api.FlashOptions
		sum  string // the result's sha256
	}{
		{"its SHA-256 checked", api.FlashOptions{SHA256: hexSHA(img)}, hexSHA(img)},
		{"digest=0", api.FlashOptions{NoDigest: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.leased(t)
			ctx := ctxT(t, 20*time.Second)
			var sent int64
			body := image.NewSparseZstd(f, int64(len(img)), func(off int64) { sent = off })
			o := tc.o
			o.Encoding, o.ImageSize = api.EncodingZstd, int64(len(img))
			res, err := c.FlashWith(ctx, body, 0, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != "raw" || res.ImageBytes != int64(len(img)) || res.SHA256 != tc.sum || res.Skipped == 0 {
				t.Fatalf("result = %+v", res)
			}
			if sent != int64(len(img)) {
				t.Errorf("the encoder reported %d bytes of the image read; want %d", sent, len(img))
			}
			got, err := os.ReadFile(e.d.Disk())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, img) {
				t.Fatal("the disk does not hold the image")
			}
			st, err := c.FlashStatus(ctx)
			if err != nil || st.TotalBytes != int64(len(img)) {
				t.Fatalf("FlashStatus = %+v, %v; want the image's size as the total", st, err)
			}
		})
	}
}

// TestFlashUploadEncodingRefused: a coding the worker cannot undo, or one
// it could but with nothing to undo, is refused before the medium is
// touched; a frame that breaks off fails the flash.
func TestFlashUploadEncodingRefused(t *testing.T) {
	img := duttest.GPTImage(256 << 10)
	for _, tc := range []struct {
		name  string
		body  []byte
		o     api.FlashOptions
		code  api.ErrorCode
		want  string
		state string
	}{
		{"unknown coding", img, api.FlashOptions{Encoding: "br"}, api.CodeBadRequest, `Content-Encoding "br" is not supported`, api.FlashIdle},
		{"coding of a cached flash", nil, api.FlashOptions{Encoding: api.EncodingZstd, Cached: hexSHA(img)}, api.CodeBadRequest, "cached flash has no body", api.FlashIdle},
		{"not a zstd frame", img, api.FlashOptions{Encoding: api.EncodingZstd}, api.CodeBadRequest, "Content-Encoding: zstd: invalid input", api.FlashFailed},
		{"a frame asking for a 1 GiB window", hugeWindowFrame(), api.FlashOptions{Encoding: api.EncodingZstd}, api.CodeBadRequest, "Content-Encoding: zstd", api.FlashFailed},
		// Any zstd decoder would take it; the worker holds it to its
		// marker's promise.
		{"a frame marked raw and run-length only, with a compressed block", markedCompressedFrame(img), api.FlashOptions{Encoding: api.EncodingZstd}, api.CodeBadRequest, "raw and run-length blocks as its marker says", api.FlashFailed},
		{"digest=0 with sha256=", img, api.FlashOptions{NoDigest: true, SHA256: hexSHA(img)}, api.CodeBadRequest, "digest=0 with sha256=", api.FlashIdle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.leased(t)
			ctx := ctxT(t, 20*time.Second)
			_, err := c.FlashWith(ctx, bytes.NewReader(tc.body), int64(len(tc.body)), tc.o, nil)
			if err == nil {
				t.Fatal("the flash succeeded")
			}
			wantCode(t, err, tc.code, tc.want)
			st, err := c.FlashStatus(ctx)
			if err != nil || st.State != tc.state {
				t.Fatalf("FlashStatus = %+v, %v; want state %s", st, err, tc.state)
			}
		})
	}
}

// hugeWindowFrame is the head of a zstd frame whose window descriptor asks
// the decoder for 1 GiB of memory (exponent 20: 2^(10+20)), followed by a
// small raw block: a worker bounds the window (maxUploadWindow) instead
// of allocating it.
func hugeWindowFrame() []byte {
	b := []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 20 << 3}
	const n = 16
	h := uint32(n)<<3 | 1 // a raw block, the last
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, make([]byte, n)...)
}

// markedCompressedFrame is img as a zstd frame of one compressed block,
// made by a real encoder, behind the skippable frame that says the frame
// holds raw and run-length blocks only.
func markedCompressedFrame(img []byte) []byte {
	const marker = "leviathan sparse zstd 1: raw and run-length blocks only"
	b := binary.LittleEndian.AppendUint32(nil, 0x184D2A5C)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(marker)))
	b = append(b, marker...)
	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	return enc.EncodeAll(img, b)
}
