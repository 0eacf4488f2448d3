package testmode_test

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/submit"
	"github.com/balena/leviathan-action/action/testmode"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/suites/bundle"
)

// TestSuitesFromArtifact: a workspace suite that submit compiled comes
// from the artifact, checked, and is not compiled on the testbot; with no
// member given, the manifest names the image.
func TestSuitesFromArtifact(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config(), artifact.WithBlockSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	img := gptImage()
	sub, err := submit.Submit(t.Context(), ac, writeFile(t, "balena.img", img), submit.Options{
		ArtifactName: "os-image", Suites: []string{"testdata/suites/pass"}, Arches: []string{runtime.GOARCH}, Commit: "cafe01",
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newBot(t, true)
	o, out := options(t, b, testmode.Source{Artifact: "os-image"})
	o.Artifacts = ac
	o.SHA256 = sub.ImageSHA256
	o.Suites = []string{"./testdata/suites/pass/"}
	res, err := testmode.Run(t.Context(), o)
	wantPassed(t, res, err, out.String())
	b.wantDisk(t, img)
	log := out.String()
	if !strings.Contains(log, "suite testdata/suites/pass: compiled by submit (commit cafe01, "+runtime.Version()+", linux/"+runtime.GOARCH+"), sha256 "+sub.Suites[0].SHA256+" checked") {
		t.Errorf("the log does not say the suite came from the artifact:\n%s", log)
	}
	if strings.Contains(log, "compiling") {
		t.Errorf("a suite was compiled on the testbot:\n%s", log)
	}
	if entries, _ := os.ReadDir(o.WorkDir); len(entries) != 0 {
		t.Errorf("suites left in %s: %v", o.WorkDir, entries)
	}
}

// staticSuite compiles the pass suite as submit does, for GOARCH arch.
func staticSuite(t *testing.T, arch string) bundle.Binary {
	t.Helper()
	bins, err := bundle.Compile(t.Context(), bundle.CompileOptions{Workspace: ".", Suites: []string{"testdata/suites/pass"},
		Arches: []string{arch}, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return bins[0]
}

// uploadBundle uploads an artifact with the manifest of bins (edited),
// their binaries and the image, as submit lays it out.
func uploadBundle(t *testing.T, ac *artifact.Client, name string, img []byte, bins []bundle.Binary, edit func(*bundle.Manifest)) {
	t.Helper()
	m := bundle.NewManifest("balena.img", bins)
	if edit != nil {
		edit(m)
	}
	files := []artifact.File{{Name: bundle.ManifestMember, Reader: bytes.NewReader(m.Marshal())}}
	for _, b := range bins {
		data, err := os.ReadFile(b.File)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, artifact.File{Name: b.Member(), Reader: bytes.NewReader(data)})
	}
	files = append(files, artifact.File{Name: "balena.img", Reader: bytes.NewReader(img)})
	if _, err := ac.Upload(t.Context(), name, files...); err != nil {
		t.Fatal(err)
	}
}

// TestSuitesCompiledOnTestbot: a workspace suite the artifact does not
// hold is compiled on the testbot, and the log says why.
func TestSuitesCompiledOnTestbot(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config(), artifact.WithBlockSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	img := gptImage()
	if _, err := ac.Upload(t.Context(), "build-artifacts", artifact.File{Name: "image/balena.img", Reader: bytes.NewReader(img)}); err != nil {
		t.Fatal(err)
	}
	own := staticSuite(t, runtime.GOARCH)
	other := own
	other.GOARCH = "riscv64"
	if runtime.GOARCH == "riscv64" {
		other.GOARCH = "amd64"
	}
	uploadBundle(t, ac, "other-arch", img, []bundle.Binary{other}, nil)
	uploadBundle(t, ac, "other-suite", img, []bundle.Binary{own}, func(m *bundle.Manifest) {
		m.Suites[0].Path, m.Suites[0].Name = "tests/pass", "pass"
	})
	for _, tc := range []struct {
		name string
		src  testmode.Source
		why  string
	}{
		{"path", testmode.Source{Path: writeFile(t, "balena.img", img)}, "the image comes from " + os.TempDir()},
		{"upload-artifact", testmode.Source{Artifact: "build-artifacts", Member: "image/balena.img"}, `artifact "build-artifacts" of this run member image/balena.img holds no compiled suites (no suites/manifest.json`},
		{"other arch", testmode.Source{Artifact: "other-arch"}, "submit compiled it for " + other.GOARCH + " only and this testbot is " + runtime.GOARCH},
		{"other suite", testmode.Source{Artifact: "other-suite"}, "submit did not compile it (its suites input does not name testdata/suites/pass)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t, true)
			o, out := options(t, b, tc.src)
			o.Artifacts = ac
			o.Suites = []string{"testdata/suites/pass"}
			res, err := testmode.Run(t.Context(), o)
			wantPassed(t, res, err, out.String())
			log := out.String()
			want := "compiling suite testdata/suites/pass on the testbot, in an environment without secrets (GOPROXY=off): " + tc.why
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q:\n%s", want, log)
			}
		})
	}
}

// TestSuitesFromArtifactRefused: a binary that is not what the manifest
// says stops the run before the DUT is touched.
func TestSuitesFromArtifactRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	srv := artifacttest.Start(t)
	ac, err := artifact.New(srv.Config(), artifact.WithBlockSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	img := gptImage()
	own := staticSuite(t, runtime.GOARCH)
	uploadBundle(t, ac, "bad-sha", img, []bundle.Binary{own}, func(m *bundle.Manifest) {
		m.Suites[0].SHA256 = strings.Repeat("0", 64)
	})
	uploadBundle(t, ac, "bad-manifest", img, []bundle.Binary{own}, func(m *bundle.Manifest) {
		m.Suites[0].GOARCH = "vax"
	})
	for _, tc := range []struct {
		name, artifact string
		want           string
	}{
		{"SHA-256", "bad-sha", "the binary is not the one the manifest lists: SHA-256 " + own.SHA256 + ", the manifest says 0000"},
		{"manifest", "bad-manifest", `GOARCH "vax"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBot(t, true)
			o, out := options(t, b, testmode.Source{Artifact: tc.artifact})
			o.Artifacts = ac
			o.Lease = b.lease(t)
			o.Suites = []string{"testdata/suites/pass"}
			_, err := testmode.Run(t.Context(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "testmode: the compiled suites in artifact") {
				t.Fatalf("err = %v; want %q\n%s", err, tc.want, out)
			}
			if tc.name == "SHA-256" && !errors.Is(err, bundle.ErrMismatch) {
				t.Errorf("err = %v; want bundle.ErrMismatch", err)
			}
			b.wantState(t, dut.PowerOff, true)
			if n := b.d.PowerOns(); n != 0 {
				t.Errorf("the DUT was powered on %d times", n)
			}
			if strings.Contains(out.String(), "flashing") {
				t.Errorf("the image was flashed:\n%s", out)
			}
		})
	}
}

// TestContainerRefusesDynamicSuite: in container mode a compiled suite
// given by path must run FROM scratch; a dynamically linked one is refused
// before the DUT is touched.
func TestContainerRefusesDynamicSuite(t *testing.T) {
	b := newBot(t, true)
	bin := suite(t, "pass") // compiled with cgo, as go test -c does by default
	if err := bundle.CheckBinary(bin, runtime.GOARCH); err == nil {
		t.Skip("the fixture suite is statically linked on this machine")
	}
	o, out := options(t, b, testmode.Source{Path: writeFile(t, "balena.img", gptImage())})
	o.Image, o.RunID = "leviathan/testrunner@sha256:00", "1"
	o.Suites = []string{bin}
	_, err := testmode.Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "cannot run in the testrunner container") || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if n := b.d.PowerOns(); n != 0 {
		t.Errorf("the DUT was powered on %d times", n)
	}
}
