package testmode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/submit"
	"github.com/balena/leviathan-action/action/testmode"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
)

// TestQEMU is the whole path on a QEMU DUT: submit uploads the test OS
// image (zstd) as an artifact, Run streams it into the worker, boots the
// DUT and runs two tests of the built-in os suite. It boots QEMU, so it
// runs only with LEVIATHAN_TESTMODE_QEMU=1 and a test OS image built by
// `make testimage`.
func TestQEMU(t *testing.T) {
	if os.Getenv("LEVIATHAN_TESTMODE_QEMU") != "1" {
		t.Skip("boots a QEMU DUT; set LEVIATHAN_TESTMODE_QEMU=1 to run")
	}
	testenv.NeedQEMU(t)
	root := testenv.RepoRoot(t)
	img := filepath.Join(root, "build", "testimage", "leviathan-testos.img")
	if _, err := os.Stat(img); err != nil {
		t.Skipf("no test OS image (make testimage): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := submit.Submit(ctx, ac, img, submit.Options{ArtifactName: "os-image"})
	if err != nil {
		t.Fatal(err)
	}
	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()

	out := testWriter{t}
	res, err := testmode.Run(ctx, testmode.Options{
		Source:    testmode.Source{Artifact: "os-image", Member: sub.Member},
		SHA256:    sub.ImageSHA256,
		WorkerURL: local.URL,
		Suites:    []string{"os"},
		SuitesDir: filepath.Join(root, "suites"),
		Run:       "^(TestOSRelease|TestExecStreamsAndExitCode)$",
		ReportDir: filepath.Join(t.TempDir(), "reports"),
		WorkDir:   t.TempDir(),
		Artifacts: ac,
		Out:       out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Passed != 2 {
		t.Fatalf("result %+v; want 2 passed", res)
	}
	if res.Flash.Format != "zstd" || res.Flash.SHA256 != sub.ImageSHA256 || res.Boot <= 0 {
		t.Errorf("flash %+v, boot %v", res.Flash, res.Boot)
	}
	c, _ := client.New(local.URL)
	if h, err := c.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Errorf("after the run: %+v, %v; want the DUT free and off", h, err)
	}
}

// testWriter sends the job log to t.Log, line by line as written.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log("job: " + strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
