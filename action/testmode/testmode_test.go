package testmode_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/submit"
	"github.com/balena/leviathan-action/action/testmode"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/image/cache"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/syncio"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/testbot"
)

// bot is a testbot: a real worker over a fake DUT, served on loopback.
type bot struct {
	d   *duttest.DUT
	url string
}

// newBot starts a worker over a fake DUT. When online is true the DUT's
// SSH address is an in-process SSH server, so WaitOnline succeeds;
// otherwise nothing answers and the DUT never comes online.
func newBot(t *testing.T, online bool, opts ...worker.Option) *bot {
	t.Helper()
	b := &bot{d: duttest.New(t)}
	w, err := worker.New(b.d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	if online {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(w.PublicKey()))
		if err != nil {
			t.Fatal(err)
		}
		b.d.SetSSH(duttest.StartSSHServer(t, key).Addr())
	} else {
		b.d.SetSSH(closedPort(t))
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

// lease takes the DUT as the runner hook would, and returns the lease id.
func (b *bot) lease(t *testing.T) string {
	t.Helper()
	l, err := b.client(t).Lease(t.Context(), "hook", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

func (b *bot) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(b.url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantState fails unless the DUT's power and lease are as given.
func (b *bot) wantState(t *testing.T, power dut.PowerState, leased bool) {
	t.Helper()
	h, err := b.client(t).Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Power != power || h.Leased != leased {
		t.Fatalf("DUT power %q leased %v (owner %q); want power %q leased %v", h.Power, h.Leased, h.LeaseOwner, power, leased)
	}
}

// wantDisk fails unless the DUT's storage starts with img.
func (b *bot) wantDisk(t *testing.T, img []byte) {
	t.Helper()
	got, err := os.ReadFile(b.d.Disk())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(img) || !bytes.Equal(got[:len(img)], img) {
		t.Fatalf("the DUT's storage (%d bytes) does not hold the image (%d bytes)", len(got), len(img))
	}
}

var fixtures struct {
	sync.Once
	dir        string
	pass, fail string
	err        error
}

// suite returns the compiled fixture suite name ("pass" or "fail"),
// compiled once per test process.
func suite(t *testing.T, name string) string {
	t.Helper()
	fixtures.Do(func() {
		if _, err := gotest.FindTest2JSON(); err != nil {
			fixtures.err = err
			return
		}
		fixtures.dir, fixtures.err = os.MkdirTemp("", "testmode-fixtures-")
		if fixtures.err != nil {
			return
		}
		for _, s := range []*string{&fixtures.pass, &fixtures.fail} {
			n := "pass"
			if s == &fixtures.fail {
				n = "fail"
			}
			built, err := gotest.Build(context.Background(), filepath.Join("testdata", "suites", n), fixtures.dir)
			if err != nil {
				fixtures.err = err
				return
			}
			*s = built.Binary
		}
	})
	if fixtures.err != nil {
		t.Skipf("fixture suites: %v", fixtures.err)
	}
	if name == "fail" {
		return fixtures.fail
	}
	return fixtures.pass
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// options returns Options running the pass suite on b.
func options(t *testing.T, b *bot, src testmode.Source) (testmode.Options, *syncio.Buffer) {
	t.Helper()
	out := &syncio.Buffer{}
	return testmode.Options{
		Source:      src,
		WorkerURL:   b.url,
		Suites:      []string{suite(t, "pass")},
		Env:         []string{"SUITE_SETTING=on", "SUITE_NOT_ALLOWED=leak"},
		AllowEnv:    []string{"SUITE_SETTING"},
		ReportDir:   filepath.Join(t.TempDir(), "reports"),
		WorkDir:     t.TempDir(),
		BootTimeout: 20 * time.Second,
		Out:         out,
	}, out
}

func gptImage() []byte { return duttest.GPTImage(4 << 20) }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t *testing.T, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

// wantPassed checks a run of the pass suite.
func wantPassed(t *testing.T, res *testmode.Result, err error, out string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !res.OK() || res.Passed != 2 || res.Failed != 0 || res.Skipped != 1 {
		t.Fatalf("result %+v; want 2 passed, 1 skipped\n%s", res, out)
	}
	if _, err := os.Stat(res.JUnit); err != nil {
		t.Errorf("no junit.xml: %v", err)
	}
}

// TestLocalRawWithHookLease is the testbot's path: the hook's lease is
// used and kept, the image verified, the suites pass with their settings.
func TestLocalRawWithHookLease(t *testing.T) {
	b := newBot(t, true)
	img := gptImage()
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", img)})
	o.Lease = b.lease(t)
	o.SHA256 = strings.ToUpper(sum(img))
	res, err := testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	if res.Flash.SHA256 != sum(img) || res.Flash.Format != "raw" || !res.Flash.Verified || res.Cached {
		t.Errorf("flash %+v", res.Flash)
	}
	if res.Boot <= 0 {
		t.Errorf("boot time %v", res.Boot)
	}
	b.wantDisk(t, img)
	b.wantState(t, dut.PowerOn, true) // the hook's lease is job-completed's to end
	if !strings.Contains(out.String(), "SUITE_NOT_ALLOWED is not in allow-env") {
		t.Errorf("the dropped variable is not named:\n%s", out)
	}
	if strings.Contains(out.String(), "leak") {
		t.Errorf("a dropped value reached the log:\n%s", out)
	}
}

func TestMask(t *testing.T) {
	o := testmode.Options{Token: "tok", Env: []string{"A=1", "B=2", "C="}, AllowEnv: []string{"A", "C"}}
	if got := strings.Join(o.Mask(), ","); got != "tok,1" {
		t.Errorf("Mask() = %q, want tok,1", got)
	}
}

// TestLocalCompressedOwnLease runs without a hook: Run takes a lease and
// releases it, which leaves the DUT off.
func TestLocalCompressedOwnLease(t *testing.T) {
	img := gptImage()
	for _, tc := range []struct {
		format string
		data   []byte
	}{{"gzip", gz(t, img)}, {"zstd", zst(t, img)}} {
		t.Run(tc.format, func(t *testing.T) {
			b := newBot(t, true)
			o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img.x", tc.data)})
			o.SHA256 = sum(img)
			res, err := testmode.Run(t.Context(), o)
			wantPassed(t, res, err, out.String())
			if res.Flash.Format != tc.format {
				t.Errorf("format %q", res.Flash.Format)
			}
			b.wantDisk(t, img)
			b.wantState(t, dut.PowerOff, false)
			if !strings.Contains(out.String(), "leased DUT") {
				t.Errorf("no word of the lease taken:\n%s", out)
			}
		})
	}
}

// TestLocalRawNoSHA256: with no SHA-256 given, a raw image file's
// digest is computed by the run beside the flash (the worker is asked
// not to), and it is still the image's.
func TestLocalRawNoSHA256(t *testing.T) {
	b := newBot(t, true)
	img := gptImage()
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", img)})
	res, err := testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	if res.Flash.SHA256 != sum(img) || res.Flash.Format != "raw" || !res.Flash.Verified {
		t.Errorf("flash %+v; want the image's SHA-256 %s", res.Flash, sum(img))
	}
	if !strings.Contains(out.String(), "sha256 "+sum(img)) {
		t.Errorf("the run does not print the image's SHA-256:\n%s", out)
	}
	b.wantDisk(t, img)
}

// TestURLResumes serves the image over HTTP and drops the first
// connection halfway: the download resumes with a Range request.
func TestURLResumes(t *testing.T) {
	b := newBot(t, true)
	img := gptImage()
	var hits atomic.Int32
	var ranged atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "4194304")
			w.WriteHeader(http.StatusOK)
			w.Write(img[:len(img)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drops the connection
		}
		if r.Header.Get("Range") != "" {
			ranged.Store(true)
		}
		http.ServeContent(w, r, "balena.img", time.Unix(1, 0), bytes.NewReader(img))
	}))
	t.Cleanup(srv.Close)
	o, out := options(t, b, testmode.Source{URL: srv.URL + "/balena.img?sig=secret"})
	o.SHA256 = sum(img)
	res, err := testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	if !ranged.Load() {
		t.Errorf("no Range request after the break (%d requests)", hits.Load())
	}
	b.wantDisk(t, img)
	if strings.Contains(out.String(), "secret") {
		t.Errorf("the URL's query reached the log:\n%s", out)
	}
}

// TestCachedImage flashes a raw image twice: the second time the worker's
// cached copy is flashed and nothing is downloaded.
func TestCachedImage(t *testing.T) {
	c, err := cache.Open(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	b := newBot(t, true, worker.WithImageCache(c))
	img := gptImage()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeContent(w, r, "balena.img", time.Unix(1, 0), bytes.NewReader(img))
	}))
	t.Cleanup(srv.Close)
	o, out := options(t, b, testmode.Source{URL: srv.URL + "/balena.img"})
	o.SHA256 = sum(img)
	res, err := testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	if res.Cached || hits.Load() != 1 {
		t.Fatalf("first run: cached %v, %d downloads", res.Cached, hits.Load())
	}
	res, err = testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	if !res.Cached || hits.Load() != 1 || res.Flash.SHA256 != sum(img) {
		t.Fatalf("second run: cached %v, %d downloads, flash %+v", res.Cached, hits.Load(), res.Flash)
	}
	b.wantDisk(t, img)
}

// TestArtifactThisRun takes the image from an artifact of this run: an
// uncompressed member under a directory, as actions/upload-artifact
// stores the first user's build, and submit's zstd member.
func TestArtifactThisRun(t *testing.T) {
	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config(), artifact.WithBlockSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	img := gptImage()
	if _, err := ac.Upload(t.Context(), "build-artifacts",
		artifact.File{Name: "image/balena.img", Reader: bytes.NewReader(img)},
		artifact.File{Name: "image/other.txt", Reader: strings.NewReader("not an image")},
	); err != nil {
		t.Fatal(err)
	}
	sub, err := submit.Submit(t.Context(), ac, writeFile(t, "balena.img", img), submit.Options{ArtifactName: "os-image"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  testmode.Source
		sha  string
	}{
		{"upload-artifact", testmode.Source{Artifact: "build-artifacts", Member: "image/balena.img"}, sum(img)},
		{"submit", testmode.Source{Artifact: "os-image", Member: sub.Member}, sub.ImageSHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t, true)
			o, out := options(t, b, tc.src)
			o.Artifacts = ac
			o.Lease = b.lease(t)
			o.SHA256 = tc.sha
			res, err := testmode.Run(t.Context(), o)
			wantPassed(t, res, err, out.String())
			b.wantDisk(t, img)
		})
	}

	t.Run("missing", func(t *testing.T) {
		b := newBot(t, true)
		o, out := options(t, b, testmode.Source{Artifact: "no-such-artifact"})
		o.Artifacts = ac
		o.Lease = b.lease(t)
		_, err := testmode.Run(t.Context(), o)
		if !errors.Is(err, artifact.ErrNotFound) || !strings.Contains(err.Error(), "no-such-artifact") {
			t.Fatalf("err = %v; want artifact.ErrNotFound naming the artifact\n%s", err, out)
		}
		b.wantState(t, dut.PowerOff, true)
	})
	t.Run("missing member", func(t *testing.T) {
		b := newBot(t, true)
		o, _ := options(t, b, testmode.Source{Artifact: "build-artifacts", Member: "image/missing.img"})
		o.Artifacts = ac
		_, err := testmode.Run(t.Context(), o)
		if !errors.Is(err, artifact.ErrNoMember) {
			t.Fatalf("err = %v; want artifact.ErrNoMember", err)
		}
		b.wantState(t, dut.PowerOff, false)
	})
}

// TestArtifactOtherRun fetches an artifact of another run through the
// REST API, and refuses an expired one.
func TestArtifactOtherRun(t *testing.T) {
	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config(), artifact.WithBlockSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	img := gptImage()
	sub, err := submit.Submit(t.Context(), ac, writeFile(t, "balena.img", img), submit.Options{ArtifactName: "os-image"})
	if err != nil {
		t.Fatal(err)
	}
	zip, err := os.ReadFile(srv.ZipPath("os-image"))
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.NewServer(t)
	id := gh.AddArtifact("balena-os", "balena-generic", githubtest.Artifact{Name: "os-image", RunID: 77, Zip: zip})
	old := gh.AddArtifact("balena-os", "balena-generic", githubtest.Artifact{Name: "os-image", RunID: 70, Zip: zip, Expired: true})

	run := func(t *testing.T, b *bot, id int64) (*testmode.Result, error, string) {
		o, out := options(t, b, testmode.Source{ArtifactID: id, Repo: "balena-os/balena-generic", Member: sub.Member})
		o.Artifacts = ac
		o.GitHub = gh.Client(githubtest.DefaultToken)
		o.SHA256 = sub.ImageSHA256
		res, err := testmode.Run(t.Context(), o)
		return res, err, out.String()
	}
	t.Run("live", func(t *testing.T) {
		b := newBot(t, true)
		res, err, out := run(t, b, id)
		wantPassed(t, res, err, out)
		b.wantDisk(t, img)
	})
	t.Run("expired", func(t *testing.T) {
		b := newBot(t, true)
		_, err, _ := run(t, b, old)
		if !errors.Is(err, artifact.ErrExpired) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v; want artifact.ErrExpired", err)
		}
		b.wantState(t, dut.PowerOff, false)
		if b.d.PowerOns() != 0 {
			t.Errorf("the DUT was powered on %d times", b.d.PowerOns())
		}
	})
	t.Run("unknown", func(t *testing.T) {
		b := newBot(t, true)
		_, err, _ := run(t, b, 999999)
		if !errors.Is(err, artifact.ErrNotFound) {
			t.Fatalf("err = %v; want artifact.ErrNotFound", err)
		}
	})
}

// TestWrongSHA256 flashes an image that is not the one named: a clear
// error, the DUT off, no reports, nothing reported as flashed.
func TestWrongSHA256(t *testing.T) {
	b := newBot(t, true)
	img := gptImage()
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img.gz", gz(t, img))})
	o.Lease = b.lease(t)
	o.SHA256 = sum([]byte("another image"))
	res, err := testmode.Run(t.Context(), o)
	if !errors.Is(err, testbot.ErrChecksumMismatch) || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), sum(img)) {
		t.Fatalf("err = %v; want a checksum mismatch naming the image's SHA-256\n%s", err, out)
	}
	if res.Flash.SHA256 != "" || res.Passed+res.Failed+res.Skipped != 0 {
		t.Errorf("result %+v after a failed flash", res)
	}
	if _, err := os.Stat(filepath.Join(o.ReportDir, "junit.xml")); err == nil {
		t.Error("junit.xml written after a failed flash")
	}
	b.wantState(t, dut.PowerOff, true)
	if b.d.PowerOns() != 0 {
		t.Errorf("the DUT was powered on %d times", b.d.PowerOns())
	}
}

func TestNotDiskImage(t *testing.T) {
	noise := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{9}).Read(noise)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"raw", noise}, {"gzip", gz(t, noise)}, {"empty", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t, true)
			o, _ := options(t, b, testmode.Source{Path: writeFile(t, "x.img", tc.data)})
			_, err := testmode.Run(t.Context(), o)
			if !errors.Is(err, image.ErrNotDiskImage) || !strings.Contains(err.Error(), "x.img") {
				t.Fatalf("err = %v; want ErrNotDiskImage naming the file", err)
			}
			b.wantState(t, dut.PowerOff, false)
			if fi, err := os.Stat(b.d.Disk()); err == nil && fi.Size() > 0 {
				t.Errorf("the DUT's storage was written (%d bytes)", fi.Size())
			}
		})
	}
}

// TestBootFailure: the DUT never comes online; the error carries the
// worker's message with the console's last lines, and the DUT ends off.
func TestBootFailure(t *testing.T) {
	b := newBot(t, false)
	b.d.OnPowerOn(func() { b.d.Print("U-Boot 2024.01\nno bootable device found\n") })
	img := gptImage()
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", img)})
	o.Lease = b.lease(t)
	o.BootTimeout = 2 * time.Second
	res, err := testmode.Run(t.Context(), o)
	if !errors.Is(err, testbot.ErrBoot) || !strings.Contains(err.Error(), "no bootable device found") {
		t.Fatalf("err = %v; want ErrBoot with the console's last lines\n%s", err, out)
	}
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusGatewayTimeout {
		t.Errorf("err = %v; want the worker's 504 inside", err)
	}
	if res.Flash.SHA256 != sum(img) {
		t.Errorf("the flash before the boot is not reported: %+v", res.Flash)
	}
	b.wantState(t, dut.PowerOff, true)
}

func TestTestsFail(t *testing.T) {
	b := newBot(t, true)
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", gptImage())})
	o.Suites = []string{suite(t, "pass"), suite(t, "fail")}
	o.Lease = b.lease(t)
	res, err := testmode.Run(t.Context(), o)
	if err != nil {
		t.Fatalf("failing tests are not an error: %v\n%s", err, out)
	}
	if res.OK() || res.Passed != 3 || res.Failed != 1 || res.Skipped != 1 {
		t.Fatalf("result %+v; want 3 passed, 1 failed, 1 skipped\n%s", res, out)
	}
	if !strings.Contains(out.String(), "fails on purpose") || !strings.Contains(out.String(), "3 passed, 1 failed, 1 skipped") {
		t.Errorf("the log does not tell the failure:\n%s", out)
	}
	junit, _ := os.ReadFile(res.JUnit)
	if !bytes.Contains(junit, []byte("TestFails")) {
		t.Errorf("junit.xml lacks the failing test:\n%s", junit)
	}
}

// TestCompilesSuitePackage runs a suite given as a package directory.
func TestCompilesSuitePackage(t *testing.T) {
	b := newBot(t, true)
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", gptImage())})
	o.Suites = []string{"./testdata/suites/fail"}
	o.Run = "TestPasses"
	res, err := testmode.Run(t.Context(), o)
	if err != nil || !res.OK() || res.Passed != 1 {
		t.Fatalf("%+v, %v\n%s", res, err, out)
	}
	if entries, _ := os.ReadDir(o.WorkDir); len(entries) != 0 {
		t.Errorf("compiled suites left in %s: %v", o.WorkDir, entries)
	}
}

// TestBadOptions fails before touching the worker.
func TestBadOptions(t *testing.T) {
	unreachable := "http://127.0.0.1:1"
	good := testmode.Options{
		Source:    testmode.Source{Path: "x.img"},
		WorkerURL: unreachable,
		Suites:    []string{"os"},
		SuitesDir: "testdata/suites",
		ReportDir: t.TempDir(),
	}
	for _, tc := range []struct {
		name string
		edit func(*testmode.Options)
		want string
	}{
		{"no source", func(o *testmode.Options) { o.Source = testmode.Source{} }, "exactly one image source"},
		{"two sources", func(o *testmode.Options) { o.Source.URL = "http://x/y" }, "exactly one image source"},
		{"no worker", func(o *testmode.Options) { o.WorkerURL = "" }, "LEVIATHAN_WORKER_URL"},
		{"bad sha", func(o *testmode.Options) { o.SHA256 = "abc" }, "not a hex SHA-256"},
		{"bad repo", func(o *testmode.Options) { o.Source = testmode.Source{ArtifactID: 3, Repo: "x"} }, "not owner/name"},
		{"no artifact client", func(o *testmode.Options) { o.Source = testmode.Source{Artifact: "a"} }, "no artifact client"},
		{"no suites", func(o *testmode.Options) { o.Suites = nil }, "no suites"},
		{"unknown built-in", func(o *testmode.Options) { o.Suites = []string{"nosuch"} }, "built-in suite \"nosuch\""},
		{"no suites dir", func(o *testmode.Options) { o.SuitesDir = "" }, "no directory of built-in suites"},
		{"not a package", func(o *testmode.Options) { o.Suites = []string{"./testdata"} }, "not a Go test package"},
		{"bad env", func(o *testmode.Options) { o.Env = []string{"SECRETVALUE"} }, "env entry 1 is not KEY=VALUE"},
		{"reserved env", func(o *testmode.Options) {
			o.Env = []string{"LEVIATHAN_LEASE=x"}
			o.AllowEnv = []string{"LEVIATHAN_LEASE"}
		}, "set by the action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			_, err := testmode.Run(t.Context(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "testmode: ") {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRETVALUE") {
				t.Errorf("the error shows the env entry: %v", err)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"LEVIATHAN_WORKER_URL":       "http://127.0.0.1:4321",
		"LEVIATHAN_LEASE":            "l-1",
		"LEVIATHAN_WORKER_TOKEN":     "tok",
		"LEVIATHAN_TESTRUNNER_IMAGE": "r/t@sha256:0",
		"LEVIATHAN_JOB_DIR":          "/job",
		"GITHUB_RUN_ID":              "42",
		"GITHUB_RUN_ATTEMPT":         "2",
		"GITHUB_JOB":                 "test",
		"GITHUB_ACTION_PATH":         "/action",
	}
	o := testmode.FromEnv(testmode.Options{Lease: "mine"}, func(k string) string { return env[k] })
	want := testmode.Options{WorkerURL: "http://127.0.0.1:4321", Lease: "mine", Token: "tok", Image: "r/t@sha256:0",
		ReportDir: "/job/reports", WorkDir: "/job", RunID: "42-2", Job: "test", SuitesDir: "/action/suites"}
	if o.WorkerURL != want.WorkerURL || o.Lease != want.Lease || o.Token != want.Token || o.Image != want.Image ||
		o.ReportDir != want.ReportDir || o.WorkDir != want.WorkDir || o.RunID != want.RunID || o.Job != want.Job || o.SuitesDir != want.SuitesDir {
		t.Errorf("FromEnv = %+v\nwant %+v", o, want)
	}
}

var _ io.Writer = (*syncio.Buffer)(nil)

// TestCancelled cancels the run while the DUT boots (a cancelled workflow
// run): the DUT ends off and Run's own lease is released.
func TestCancelled(t *testing.T) {
	b := newBot(t, false)
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", gptImage())})
	o.BootTimeout = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	b.d.OnPowerOn(func() { time.AfterFunc(200*time.Millisecond, cancel) })
	_, err := testmode.Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled\n%s", err, out)
	}
	b.wantState(t, dut.PowerOff, false)
}
