package actioncmd_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/testrunner"
	"github.com/balena/leviathan-action/autokit/worker"
	"github.com/balena/leviathan-action/internal/ghlog/ghlogtest"
	"github.com/balena/leviathan-action/internal/localrun"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/internal/testrunnerimage"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

// trespassSuite is the workspace suite (a user's own, importing the suite
// SDK) the end-to-end test ships through submit, relative to the module's
// root, which stands for the user's checkout.
const trespassSuite = "action/actioncmd/testdata/suites/trespass"

// TestSubmitTestReport is the action end to end on this machine: submit
// compiles a workspace suite and uploads it with the test OS image to
// act's artifact server; test, on the testbot path (the runner hook's
// lease and testrunner image, the real Docker Engine), takes both from
// the artifact, flashes the image onto a QEMU DUT through its worker,
// boots it and runs suites/os and the workspace suite in the testrunner
// container, then reports check runs to the fake GitHub; report turns the
// same JUnit file into a check run on its own.
//
// The workspace suite (testdata/suites/trespass) checks it runs in the
// container and tries to cross the testbot's boundaries: it looks for
// secrets planted in the action's environment (given to it as SHA-256s
// only), for the Docker socket and for a host service, and prints
// workflow commands this test then looks for in the step's log.
func TestSubmitTestReport(t *testing.T) {
	testenv.NeedQEMU(t)
	docker := testenv.Docker(t)
	root := testenv.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	build := filepath.Join(root, "build")
	m, err := testimage.Build(ctx, testimage.Options{CacheDir: filepath.Join(build, "cache", "debs"),
		OutDir: filepath.Join(build, "testimage"), Reuse: true})
	if err != nil {
		t.Fatal(err)
	}
	// A copy of its own: other tests may rebuild the shared image meanwhile.
	osImage := filepath.Join(t.TempDir(), "balena.img")
	testenv.CopyFile(t, m.Image, osImage)
	osSHA256 := fileSHA256(t, osImage)
	artifacts := artifacttest.Start(t)

	// The build job: submit the image and compile the workspace suite.
	sub := newStep(t, map[string]string{"mode": "submit", "image": osImage, "artifact": "leviathan-image",
		"suites": trespassSuite, "suite-arch": "amd64,arm64"})
	t.Setenv("GITHUB_WORKSPACE", root)
	artifacts.Setenv(t)
	if code := sub.run(t); code != 0 {
		t.Fatalf("submit: exit %d", code)
	}
	out := sub.outputs(t)
	if out["image-sha256"] != osSHA256 || out["artifact-name"] != "leviathan-image" || out["artifact-id"] == "" {
		t.Fatalf("submit outputs %v; want the image's sha256 %s", out, osSHA256)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !strings.Contains(sub.stdout.String(), "suite "+trespassSuite+" (linux/"+arch) {
			t.Errorf("submit did not compile the suite for %s", arch)
		}
	}

	// The testbot: the testrunner image pulled by digest, a QEMU DUT
	// behind its worker, and the lease job-started takes and exports.
	img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	reg, ref, err := testrunnerimage.Serve(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := testrunner.Pull(ctx, docker, ref, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		docker.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	// As on a testbot: the worker has a token, which only the hook (here,
	// this test) holds, and runs the testrunner container itself.
	const adminToken = "testbot-admin-token"
	tr := &testrunner.WorkerTestrunner{Engine: docker}
	local, err := localrun.StartLocal(ctx, localrun.LocalConfig{ParentDir: t.TempDir(), WorkerOptions: []worker.Option{
		worker.WithToken(adminToken), worker.WithTestrunner(tr, t.TempDir(), ref)}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	tr.WorkerURL = local.URL
	wc, err := client.New(local.URL, client.WithToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := wc.Lease(ctx, "leviathan-hook job-started", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	wc.KeepAlive(kctx, lease, 0)
	jobDir := t.TempDir()

	// What the suite may not reach: secrets of the step, and a host
	// service other than the worker's forwarder.
	secret := make([]byte, 16)
	rand.Read(secret)
	planted := "ghp_planted" + hex.EncodeToString(secret)
	hashes := []string{sha256hex(planted), sha256hex(githubtest.DefaultToken), sha256hex(artifacts.RuntimeToken)}
	hostPort, hostAddrs := hostService(t)

	tst := newStep(t, map[string]string{"mode": "test", "artifact": "leviathan-image", "image-sha256": out["image-sha256"],
		"suites": "os, ./" + trespassSuite + "/", "device-type": "qemu-x86_64", "github-token": githubtest.DefaultToken,
		"boot-timeout": "5m", "env": "TRESPASS_SECRET_SHA256S, TRESPASS_HOST_PORT, TRESPASS_HOST_ADDRS"})
	t.Setenv("GITHUB_WORKSPACE", root)
	artifacts.Setenv(t)
	for k, v := range map[string]string{
		"LEVIATHAN_WORKER_URL": local.URL, "LEVIATHAN_LEASE": lease.ID,
		"LEVIATHAN_TESTRUNNER_IMAGE": ref, "LEVIATHAN_JOB_DIR": jobDir,
		"INPUT_GITHUB_TOKEN":      planted, // beside the github-token input, which wins
		"TRESPASS_SECRET_SHA256S": strings.Join(hashes, ","),
		"TRESPASS_HOST_PORT":      hostPort, "TRESPASS_HOST_ADDRS": hostAddrs,
	} {
		t.Setenv(k, v)
	}
	gh := tst.github(t)
	if code := tst.run(t); code != 0 {
		t.Fatalf("test: exit %d", code)
	}
	res := tst.outputs(t)
	passed, _ := strconv.Atoi(res["passed"])
	if res["conclusion"] != "success" || res["failed"] != "0" || passed < 8 || res["check-run-url"] == "" {
		t.Fatalf("test outputs %v", res)
	}
	runs := gh.CheckRuns()
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
		if r.Conclusion != "success" || r.HeadSHA != headSHA {
			t.Errorf("check run %+v", r)
		}
	}
	slices.Sort(names)
	if want := []string{"leviathan / os / qemu-x86_64", "leviathan / trespass / qemu-x86_64"}; !slices.Equal(names, want) {
		t.Errorf("check runs %q, want %q", names, want)
	}
	log := tst.stdout.String()
	if !strings.Contains(log, "suite "+trespassSuite+": compiled by submit (commit "+headSHA) || strings.Contains(log, "on the testbot") {
		t.Errorf("the workspace suite did not come from the artifact")
	}

	// The suite ran in the container: its results are in the JUnit file,
	// and the file it wrote to /reports came back.
	reports := filepath.Join(jobDir, "leviathan-reports")
	junit := filepath.Join(reports, "junit.xml")
	results := junitResults(t, junit)
	for test, want := range map[string]string{
		"TestInContainer": "pass", "TestDrivesTheDUT": "pass", "TestNoSecretInProcesses": "pass",
		"TestNoDockerSocket": "pass", "TestWorkflowCommands": "pass", "TestLeaseProbes": "pass",
	} {
		if got := results["trespass."+test]; got != want {
			t.Errorf("trespass %s: %q, want %q", test, got, want)
		}
	}
	if hostPort != "" && results["trespass.TestNoHostService"] != "pass" {
		t.Errorf("trespass TestNoHostService: %q, want pass", results["trespass.TestNoHostService"])
	}
	if b, err := os.ReadFile(filepath.Join(reports, "trespass-marker.txt")); err != nil || !strings.Contains(string(b), "inside the testrunner container") {
		t.Errorf("the suite's file in /reports did not come back: %q, %v", b, err)
	}
	// The session's recording and the visual report hold no trace of the
	// step's secrets or the lease's id (the lease's credential).
	rec, err := os.ReadFile(filepath.Join(reports, session.FileName))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(plain, []byte(`"path":"/v1/exec"`)) {
		t.Fatalf("the session's recording holds no exec call: %v", err)
	}
	page, err := os.ReadFile(filepath.Join(reports, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"the planted token": planted, "the github-token": githubtest.DefaultToken,
		"the artifact runtime token": artifacts.RuntimeToken, "the lease's id": lease.ID} {
		if bytes.Contains(plain, []byte(s)) || bytes.Contains(page, []byte(s)) {
			t.Errorf("%s is in the session's recording or the visual report", name)
		}
	}
	// What the suite printed issues no workflow command.
	if strings.Contains(log, "::stop-commands::") {
		for _, c := range ghlogtest.Parse(log).Effective() {
			if strings.Contains(c, "pwned") {
				t.Errorf("the runner would process the suite's %q", c)
			}
		}
	} else {
		t.Log("the step's log has no ::stop-commands:: region: the check that the suite's workflow commands are not processed awaits that change")
	}

	// job-completed: the lease ends, the DUT goes off.
	stopKeepAlive()
	if err := wc.Release(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	if h, err := wc.Health(ctx); err != nil || h.Leased || h.Power != dut.PowerOff {
		t.Errorf("after the job: %+v, %v: want the DUT free and off", h, err)
	}

	// report, on its own, from the test step's JUnit file.
	rep := newStep(t, map[string]string{"mode": "report", "junit": junit, "device-type": "qemu-x86_64",
		"check-name": "rerun / {suite} / {device-type}", "github-token": githubtest.DefaultToken})
	rep.env.Transport = gh.HTTPClient().Transport
	t.Setenv("GITHUB_API_URL", gh.URL)
	if code := rep.run(t); code != 0 {
		t.Fatalf("report: exit %d", code)
	}
	if after := gh.CheckRuns(); len(after) != len(runs)+2 || after[len(after)-1].Conclusion != "success" {
		t.Fatalf("check runs after report: %+v", after)
	}
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hostService listens on all the host's addresses for the suite to try,
// and returns the port and the host's own addresses with it. As root with
// iptables the testrunner container's network is closed to the host but
// for the worker's forwarder; elsewhere host services answer it (package
// container's documented limit), and the suite is given no port to try.
func hostService(t *testing.T) (port, addrs string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: the container's network stays open to host services; TestNoHostService skips")
		return "", ""
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Log("no iptables: the container's network stays open to host services; TestNoHostService skips")
		return "", ""
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var list []string
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, _ := i.Addrs()
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				list = append(list, net.JoinHostPort(n.IP.String(), port))
			}
		}
	}
	return port, strings.Join(list, ",")
}

// junitResults maps "suite.Test" to pass, fail or skip.
func junitResults(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			r := "pass"
			switch {
			case c.Failure != nil || c.Error != nil:
				r = "fail"
			case c.Skipped != nil:
				r = "skip"
			}
			out[s.Name+"."+c.Name] = r
		}
	}
	return out
}
