package cli_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// TestSubmitTestReport is the action end to end on this machine: submit
// uploads the test OS image to act's artifact server, test fetches that
// artifact, flashes it onto a QEMU DUT through its worker, boots it, runs
// suites/os and reports a check run to the fake GitHub, and report turns
// the same JUnit file into a check run on its own.
func TestSubmitTestReport(t *testing.T) {
	testenv.NeedQEMU(t)
	root := testenv.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	build := filepath.Join(root, "build")
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(build, "cache", "debs"),
		OutDir: filepath.Join(build, "testimage"), Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	artifacts := artifacttest.Start(t)

	// The build job: submit.
	sub := newStep(t, map[string]string{"mode": "submit", "image": m.Image, "artifact": "leviathan-image"})
	artifacts.Setenv(t)
	if code := sub.run(t); code != 0 {
		t.Fatalf("submit: exit %d", code)
	}
	out := sub.outputs(t)
	if out["image-sha256"] != m.SHA256 || out["artifact-name"] != "leviathan-image" || out["artifact-id"] == "" {
		t.Fatalf("submit outputs %v; want the image's sha256 %s", out, m.SHA256)
	}

	// The testbot job: test, against a QEMU DUT (no runner hook here, so
	// test mode takes the lease itself and releases it).
	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	tst := newStep(t, map[string]string{"mode": "test", "artifact": "leviathan-image", "image-sha256": out["image-sha256"],
		"suites": "os", "device-type": "qemu-x86_64", "worker-url": local.URL, "github-token": githubtest.DefaultToken,
		"boot-timeout": "5m"})
	artifacts.Setenv(t)
	t.Setenv("GITHUB_ACTION_PATH", root) // built-in suites: <action>/suites
	gh := tst.github(t)
	if code := tst.run(t); code != 0 {
		t.Fatalf("test: exit %d", code)
	}
	res := tst.outputs(t)
	passed, _ := strconv.Atoi(res["passed"])
	if res["conclusion"] != "success" || res["failed"] != "0" || passed < 5 || res["check-run-url"] == "" {
		t.Fatalf("test outputs %v", res)
	}
	runs := gh.CheckRuns()
	if len(runs) != 1 || runs[0].Name != "leviathan / os / qemu-x86_64" || runs[0].Conclusion != "success" || runs[0].HeadSHA != headSHA {
		t.Fatalf("check runs %+v", runs)
	}
	c, err := client.New(local.URL)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Errorf("after the test step: %+v, %v: want the DUT free and off", h, err)
	}

	// report, on its own, from the test step's JUnit file.
	junit := filepath.Join(tst.dir, "leviathan-reports", "junit.xml")
	rep := newStep(t, map[string]string{"mode": "report", "junit": junit, "device-type": "qemu-x86_64",
		"check-name": "rerun / {suite} / {device-type}", "github-token": githubtest.DefaultToken})
	rep.env.Transport = gh.HTTPClient().Transport
	t.Setenv("GITHUB_API_URL", gh.URL)
	if code := rep.run(t); code != 0 {
		t.Fatalf("report: exit %d", code)
	}
	if runs := gh.CheckRuns(); len(runs) != 2 || runs[1].Conclusion != "success" {
		t.Fatalf("check runs after report: %+v", runs)
	}
}
