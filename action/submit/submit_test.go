package submit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/submit"
	"github.com/balena/leviathan-action/autokit/image"
)

// rawImage builds a small GPT-style disk image: a protective MBR with its
// 0x55AA signature, an "EFI PART" header, then partitions of noise, text
// and zeros.
func rawImage(size int) []byte {
	b := make([]byte, size)
	b[446+4] = 0xee // protective MBR partition type
	binary.LittleEndian.PutUint32(b[446+8:], 1)
	b[510], b[511] = 0x55, 0xaa
	copy(b[512:], "EFI PART")
	r := rand.NewChaCha8([32]byte{2})
	r.Read(b[1<<20 : 1<<20+size/8])
	for i := size / 4; i < size/2; i += 64 {
		copy(b[i:], "leviathan test data, compressible, line after line...\n")
	}
	return b
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func client(t *testing.T, cfg artifact.Config, opts ...artifact.Option) *artifact.Client {
	t.Helper()
	c, err := artifact.New(cfg, append([]artifact.Option{artifact.WithBlockSize(256 << 10)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubmitRawImage(t *testing.T) {
	srv := artifacttest.Start(t)
	raw := rawImage(4 << 20)
	path := writeFile(t, "balena.img", raw)
	c := client(t, srv.Config())

	res, err := submit.Submit(t.Context(), c, path, submit.Options{ArtifactName: "os-image"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ArtifactID == 0 || res.ArtifactName != "os-image" || res.Member != "balena.img.zst" || res.Format != image.Raw {
		t.Errorf("result %+v", res)
	}
	if res.ImageSHA256 != sha(raw) || res.ImageSize != int64(len(raw)) {
		t.Errorf("sha256 %s size %d, want %s %d", res.ImageSHA256, res.ImageSize, sha(raw), len(raw))
	}
	if r := res.Ratio(); r < 1.5 {
		t.Errorf("ratio %.2f: the image is mostly zeros and text", r)
	}
	if o := res.Outputs(); o["artifact-id"] == "" || o["image-sha256"] != res.ImageSHA256 {
		t.Errorf("outputs %v", o)
	}

	var zst bytes.Buffer
	n, err := c.Extract(t.Context(), "os-image", "balena.img.zst", &zst)
	if err != nil || n != res.UploadedSize {
		t.Fatalf("Extract = %d, %v; uploaded %d", n, err, res.UploadedSize)
	}
	dec, err := zstd.NewReader(&zst)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	got, err := io.ReadAll(dec)
	if err != nil || !bytes.Equal(got, raw) {
		t.Errorf("downloaded image differs from the submitted one (err %v)", err)
	}
}

func TestSubmitCompressedImageAsIs(t *testing.T) {
	srv := artifacttest.Start(t)
	raw := rawImage(2 << 20)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	path := writeFile(t, "balena.img.gz", gz.Bytes())
	c := client(t, srv.Config())

	res, err := submit.Submit(t.Context(), c, path, submit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ArtifactName != submit.DefaultArtifactName || res.Member != "balena.img.gz" || res.Format != image.Gzip {
		t.Errorf("result %+v", res)
	}
	if res.ImageSHA256 != sha(raw) || res.ImageSize != int64(len(raw)) || res.UploadedSize != int64(gz.Len()) {
		t.Errorf("sha256 %s sizes %d/%d, want the uncompressed image's %s, %d/%d", res.ImageSHA256, res.ImageSize, res.UploadedSize, sha(raw), len(raw), gz.Len())
	}
	var got bytes.Buffer
	if _, err := c.Extract(t.Context(), res.ArtifactName, res.Member, &got); err != nil || !bytes.Equal(got.Bytes(), gz.Bytes()) {
		t.Errorf("Extract: %v; equal to the gzip file: %t", err, bytes.Equal(got.Bytes(), gz.Bytes()))
	}
}

func TestCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	var gzText bytes.Buffer
	zw := gzip.NewWriter(&gzText)
	zw.Write(bytes.Repeat([]byte("not an image\n"), 200))
	zw.Close()
	for _, tc := range []struct {
		name, path string
		want       string
		is         error
	}{
		{"missing", filepath.Join(dir, "nope.img"), "nope.img does not exist", os.ErrNotExist},
		{"directory", dir, "is a directory", nil},
		{"empty", writeFile(t, "empty.img", nil), "empty.img is empty", nil},
		{"text", writeFile(t, "notes.txt", bytes.Repeat([]byte("hello\n"), 200)), "notes.txt", image.ErrNotDiskImage},
		{"gzip of text", writeFile(t, "notes.gz", gzText.Bytes()), "gzip-compressed", image.ErrNotDiskImage},
		{"zip", writeFile(t, "image.zip", []byte("PK\x03\x04rest")), "zip archive", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := submit.Check(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "submit: ") {
				t.Errorf("Check = %v, want an error with %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Check = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
	// Submit checks before it uploads anything: no server is needed.
	if _, err := submit.Submit(t.Context(), nil, dir, submit.Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Submit(dir) = %v", err)
	}
}

func TestSubmitRetriesADroppedBlock(t *testing.T) {
	srv := artifacttest.Start(t)
	target, _ := url.Parse(srv.ResultsURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var puts atomic.Int32
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Get("comp") == "block" && puts.Add(1) == 1 {
			io.Copy(io.Discard, r.Body)
			http.Error(w, "dropped by the test", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer ps.Close()

	var waits atomic.Int32
	raw := rawImage(3 << 20)
	c := client(t, artifact.Config{RuntimeToken: srv.RuntimeToken, ResultsURL: ps.URL},
		artifact.WithSleep(func(context.Context, time.Duration) error { waits.Add(1); return nil }))
	res, err := submit.Submit(t.Context(), c, writeFile(t, "img", raw), submit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if waits.Load() != 1 || puts.Load() < 2 {
		t.Errorf("%d waits, %d block PUTs; want one retry", waits.Load(), puts.Load())
	}
	var zst bytes.Buffer
	if _, err := client(t, srv.Config()).Extract(t.Context(), res.ArtifactName, "", &zst); err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(&zst)
	defer dec.Close()
	if got, err := io.ReadAll(dec); err != nil || sha(got) != res.ImageSHA256 {
		t.Errorf("after the retry the artifact holds another image (err %v)", err)
	}
}

func TestFromEnvNamesMissingVariables(t *testing.T) {
	path := writeFile(t, "img", rawImage(2<<20))
	t.Setenv(artifact.EnvRuntimeToken, "")
	t.Setenv(artifact.EnvResultsURL, "http://127.0.0.1:1/")
	_, err := submit.FromEnv(t.Context(), path, submit.Options{})
	if err == nil || !strings.Contains(err.Error(), "ACTIONS_RUNTIME_TOKEN not set") {
		t.Errorf("FromEnv without a token = %v", err)
	}
	srv := artifacttest.Start(t)
	t.Setenv(artifact.EnvRuntimeToken, srv.RuntimeToken)
	t.Setenv(artifact.EnvResultsURL, "")
	_, err = submit.FromEnv(t.Context(), path, submit.Options{})
	if err == nil || !strings.Contains(err.Error(), "ACTIONS_RESULTS_URL not set") {
		t.Errorf("FromEnv without a results URL = %v", err)
	}
	srv.Setenv(t)
	if res, err := submit.FromEnv(t.Context(), path, submit.Options{ArtifactName: "env"}); err != nil || res.ArtifactID == 0 {
		t.Errorf("FromEnv with both = %+v, %v", res, err)
	}
}

func TestDispatchInputs(t *testing.T) {
	d := submit.Dispatch{DeviceTypes: []string{"raspberrypi4-64", "generic-amd64"}}
	in := d.Inputs(submit.Result{ArtifactName: "img", ImageSHA256: "ab"}, 42)
	want := map[string]any{"artifact": "img", "run_id": "42", "device_types": `["raspberrypi4-64","generic-amd64"]`, "suites": "[]", "image_sha256": "ab"}
	for k, v := range want {
		if in[k] != v {
			t.Errorf("input %s = %v, want %v", k, in[k], v)
		}
	}
	if len(in) != len(want) {
		t.Errorf("inputs %v", in)
	}
}
