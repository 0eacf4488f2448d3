package gotest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	ctx := context.Background()
	build := t.TempDir()
	s, err := Build(ctx, "testdata/fixture", build)
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	var live bytes.Buffer
	serial := []byte("boot\nline one\nline two\n")
	src := func(ctx context.Context, off int64) ([]byte, int64, error) {
		if off > int64(len(serial)) {
			off = int64(len(serial))
		}
		return serial[off:], int64(len(serial)), nil
	}
	png := []byte("\x89PNG fake screen")
	shots := 0
	shoot := func(ctx context.Context) ([]byte, error) { shots++; return png, nil }
	sum, err := Run(ctx, Options{Suites: []Suite{s}, Env: []string{"FIXTURE_ENV=set"}, ReportDir: reports, Out: &live, Serial: src,
		OnFail: ShootOnFail(reports, shoot, slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	// One screenshot, for the one failing top-level test.
	got, err := ReadShots(reports)
	if err != nil || shots != 1 || len(got) != 1 || got[0].Suite != "fixture" || got[0].Test != "TestFails" {
		t.Fatalf("shots: %d taken, listed %+v, %v", shots, got, err)
	}
	if b, err := os.ReadFile(filepath.Join(reports, got[0].File)); err != nil || !bytes.Equal(b, png) {
		t.Errorf("screenshot %s: %q, %v", got[0].File, b, err)
	}
	if sum.Passed != 3 || sum.Failed != 1 || sum.Skipped != 1 || len(sum.Errors) != 0 || sum.OK() {
		t.Fatalf("summary %+v", sum)
	}
	for _, want := range []string{"✓ TestPasses", "✗ TestFails", "wanted 1, got 2", "– TestSkips skipped: fixture_test.go:12: no screen on this DUT"} {
		if !strings.Contains(live.String(), want) {
			t.Errorf("live output lacks %q:\n%s", want, live.String())
		}
	}
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(filepath.Join(reports, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml is not well-formed: %v", err)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Failures != 1 || doc.Suites[0].Name != "fixture" {
		t.Fatalf("junit suites %+v", doc.Suites)
	}
	for _, f := range []string{"summary.json", "events.json", "tests/fixture/TestFails.log", "tests/fixture/TestSubtests__a.log"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("report %s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(reports, "tests/fixture/TestFails.log")); !strings.Contains(string(b), "wanted 1, got 2") {
		t.Errorf("TestFails.log = %q", b)
	}
}

func TestBuildBadSuites(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"testdata/does-not-exist", "no such file"},
		{"testdata/notests", "is not a Go test package"},
		{"doc.go", "is not a directory"},
	} {
		_, err := Build(context.Background(), tc.dir, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%s) = %v, want an error with %q", tc.dir, err, tc.want)
		}
	}
}

func TestRunNoSuites(t *testing.T) {
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Fatal("Run with no suites succeeded")
	}
}

func TestCleanEnvKeepsSecretsOut(t *testing.T) {
	t.Setenv("ACTIONS_RUNTIME_TOKEN", "not-for-suites")
	t.Setenv("PATH", "/usr/bin:/bin")
	env := strings.Join(baseEnv(true), "\n")
	if strings.Contains(env, "ACTIONS_RUNTIME_TOKEN") || !strings.Contains(env, "PATH=/usr/bin:/bin") {
		t.Errorf("clean environment:\n%s", env)
	}
	if !strings.Contains(strings.Join(baseEnv(false), "\n"), "ACTIONS_RUNTIME_TOKEN=not-for-suites") {
		t.Error("the inherited environment lost a variable")
	}
}

func TestShootOnFailKeepsGoingWithoutAScreen(t *testing.T) {
	dir := t.TempDir()
	onFail := ShootOnFail(dir, func(context.Context) ([]byte, error) { return nil, errors.New("no screen") }, slog.New(slog.DiscardHandler))
	onFail(t.Context(), "os", "TestX")
	shots, err := ReadShots(dir)
	if err != nil || len(shots) != 0 {
		t.Fatalf("ReadShots = %+v, %v; want none", shots, err)
	}
	os.MkdirAll(filepath.Join(dir, ScreensDir), 0o755)
	os.WriteFile(filepath.Join(dir, ScreensDir, ScreensIndex), []byte("{not json"), 0o644)
	if _, err := ReadShots(dir); err == nil || !strings.Contains(err.Error(), ScreensIndex) {
		t.Fatalf("a broken index: err = %v, want one naming %s", err, ScreensIndex)
	}
}
