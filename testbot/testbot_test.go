package testbot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/image"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/testbot"
)

// newWorker serves a real worker over a fake DUT on loopback; the DUT
// answers SSH once powered on.
func newWorker(t *testing.T) (*duttest.DUT, string) {
	t.Helper()
	d := duttest.New(t)
	w, err := worker.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(w.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	d.SetSSH(duttest.StartSSHServer(t, key).Addr())
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return d, srv.URL
}

func health(t *testing.T, url string) (power dut.PowerState, leased bool) {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Power, h.Leased
}

// bytesImage is an image held in memory.
type bytesImage []byte

func (b bytesImage) String() string { return "test image" }
func (b bytesImage) Open(context.Context) (*testbot.Stream, error) {
	return &testbot.Stream{R: bytes.NewReader(b), Size: int64(len(b)), Close: func() error { return nil }}, nil
}

// diskImage is a small raw image with an MBR.
func diskImage() bytesImage {
	img := make([]byte, 1<<20)
	img[510], img[511] = 0x55, 0xaa
	return img
}

func readSummary(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A run that fails leaves the DUT off, its own lease released, and a
// summary.json naming the stage — never an earlier run's results.
func TestRunFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		image   testbot.Image
		prepare func(context.Context) (*testbot.Plan, error)
		stage   string
		is      error
		want    string
	}{
		{
			name:  "not a disk image",
			image: bytesImage(bytes.Repeat([]byte("not an image "), 100)),
			stage: testbot.StageFlash, is: image.ErrNotDiskImage, want: "test image",
		},
		{
			name: "the source breaks",
			image: testbot.Pipe{Name: "a pipe", Produce: func(ctx context.Context, w io.Writer) error {
				return errors.New("the download broke")
			}},
			stage: testbot.StageFlash, want: "the download broke",
		},
		{
			name: "the suites do not compile",
			prepare: func(context.Context) (*testbot.Plan, error) {
				return nil, errors.New("suite x: syntax error")
			},
			stage: testbot.StageSuites, want: "syntax error",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := newWorker(t)
			reports := t.TempDir()
			os.WriteFile(filepath.Join(reports, "junit.xml"), []byte("<testsuites/>"), 0o644) // an earlier run's
			o := testbot.Options{
				WorkerURL: url, Image: tc.image, ReportDir: reports, BootTimeout: 2 * time.Second,
				Prepare: tc.prepare,
			}
			if o.Image == nil {
				o.Image = diskImage()
			}
			if o.Prepare == nil {
				o.Plan = &testbot.Plan{}
			}
			var out bytes.Buffer
			o.Out = &out
			res, err := testbot.Run(t.Context(), o)
			if err == nil {
				t.Fatalf("Run succeeded\n%s", out.String())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v; want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want it to say %q", err, tc.want)
			}
			if res.Stage != tc.stage {
				t.Errorf("stage %q, want %q", res.Stage, tc.stage)
			}
			m := readSummary(t, reports)
			if _, ok := m["timings"].(map[string]any); !ok {
				t.Errorf("summary.json has no timings: %v", m)
			}
			if m["ok"] != false || m["stage"] != res.Stage || m["error"] != err.Error() {
				t.Errorf("summary.json = %v; want the failed stage %q and the error", m, res.Stage)
			}
			if _, err := os.Stat(filepath.Join(reports, "junit.xml")); !errors.Is(err, os.ErrNotExist) {
				t.Error("the earlier run's junit.xml is still there")
			}
			if power, leased := health(t, url); power != dut.PowerOff || leased {
				t.Errorf("after the failure: power %s, leased %v; want off and released", power, leased)
			}
		})
	}
}

// Bad options fail before anything is touched.
func TestRunBadOptions(t *testing.T) {
	good := testbot.Options{WorkerURL: "http://127.0.0.1:1", Image: diskImage(), Plan: &testbot.Plan{}, ReportDir: t.TempDir()}
	for _, tc := range []struct {
		name string
		edit func(*testbot.Options)
		want string
	}{
		{"no worker", func(o *testbot.Options) { o.WorkerURL = "" }, "LEVIATHAN_WORKER_URL"},
		{"no image", func(o *testbot.Options) { o.Image = nil }, "no image"},
		{"no suites", func(o *testbot.Options) { o.Plan = nil }, "either as a plan"},
		{"two kinds of suites", func(o *testbot.Options) {
			o.Prepare = func(context.Context) (*testbot.Plan, error) { return nil, nil }
		}, "either as a plan"},
		{"no reports", func(o *testbot.Options) { o.ReportDir = "" }, "no report directory"},
		{"bad sha", func(o *testbot.Options) { o.SHA256 = "abc" }, "not a hex SHA-256"},
		{"negative boot timeout", func(o *testbot.Options) { o.BootTimeout = -time.Second }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			if _, err := testbot.Run(t.Context(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
}

// A held lease the worker drops ends the held context with ErrLeaseLost,
// the error a run stops with.
func TestHoldLostLease(t *testing.T) {
	_, url := newWorker(t)
	admin, _ := client.New(url)
	held, ctx, err := admin.Hold(t.Context(), "test", time.Minute, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, leased := health(t, url); !leased {
		t.Fatal("Hold took no lease")
	}
	if err := admin.Release(t.Context(), held.Lease.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the held context lives on after the lease was released")
	}
	if !errors.Is(context.Cause(ctx), testbot.ErrLeaseLost) {
		t.Fatalf("cause %v; want ErrLeaseLost", context.Cause(ctx))
	}
	// Releasing again is harmless for the DUT: it stays free.
	held.Release(t.Context())
	if _, leased := health(t, url); leased {
		t.Error("the DUT is leased after Release")
	}
}
