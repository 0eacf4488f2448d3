package submit_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/submit"
	"github.com/balena/leviathan-action/suites/bundle"
)

// TestSubmitSuites compiles a workspace suite for two architectures and
// ships it before the image, with its manifest: a testbot reads the suites
// and stops before the image.
func TestSubmitSuites(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a suite; skipped with -short")
	}
	srv := artifacttest.Start(t)
	c := client(t, srv.Config())
	raw := rawImage(2 << 20)
	res, err := submit.Submit(t.Context(), c, writeFile(t, "balena.img", raw), submit.Options{
		ArtifactName: "os-image", Workspace: "testdata", Suites: []string{"./suites/hup"},
		Arches: []string{"amd64", "arm64"}, Commit: "0123abc",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Suites) != 2 || res.Suites[0].Path != "suites/hup" || res.Suites[0].GOARCH != "amd64" || res.Suites[1].GOARCH != "arm64" {
		t.Fatalf("suites %+v", res.Suites)
	}
	var names []string
	u := bundle.NewUnpacker(t.TempDir(), runtime.GOARCH, []string{"suites/hup"})
	err = c.Walk(t.Context(), "os-image", func(m artifact.Member, r io.Reader) error {
		names = append(names, m.Name)
		more, err := u.Member(m.Name, r)
		if err != nil || !more {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, " "); got != "suites/manifest.json suites/hup.amd64.test suites/hup.arm64.test balena.img.zst" {
		t.Errorf("members %s; want the manifest, the binaries, then the image", got)
	}
	if err := u.Check(); err != nil {
		t.Fatal(err)
	}
	m := u.Manifest()
	if m == nil || m.Image != res.Member || len(m.Suites) != 2 || m.Suites[0].Commit != "0123abc" || m.Suites[0].GoVersion != runtime.Version() {
		t.Fatalf("manifest %+v", m)
	}
	if _, ok := u.Binary("suites/hup"); !ok {
		t.Errorf("no binary for %s", runtime.GOARCH)
	}
	// The image is where it was, by name.
	if _, err := c.Extract(t.Context(), "os-image", res.Member, io.Discard); err != nil {
		t.Errorf("the image member: %v", err)
	}
}

// uploader records whether Submit uploaded anything.
type uploader struct{ calls int }

func (u *uploader) Upload(context.Context, string, ...artifact.File) (artifact.Artifact, error) {
	u.calls++
	return artifact.Artifact{ID: 1}, nil
}

// TestSubmitSuiteErrors: a suite that is missing or does not compile
// fails the step, naming the suite and quoting the compiler, before
// anything is uploaded.
func TestSubmitSuiteErrors(t *testing.T) {
	img := writeFile(t, "balena.img", rawImage(2<<20))
	for _, tc := range []struct {
		name   string
		suites []string
		arches []string
		want   []string
	}{
		{"missing", []string{"suites/hup", "suites/cloud"}, nil, []string{"submit: bundle: suite suites/cloud", "no such file or directory"}},
		{"not a directory", []string{"suites/hup/hup_test.go"}, nil, []string{"suite suites/hup/hup_test.go", "not a directory"}},
		{"outside the workspace", []string{"../submit"}, nil, []string{"not a directory inside the workspace"}},
		{"does not compile", []string{"suites/hup", "suites/broken"}, []string{runtime.GOARCH},
			[]string{"suite suites/broken does not compile for linux/" + runtime.GOARCH, "declared and not used: unused", "broken_test.go:6"}},
		{"unknown arch", []string{"suites/hup"}, []string{"amd64", "z80"}, []string{`GOARCH "z80"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "does not compile" && testing.Short() {
				t.Skip("compiles a suite; skipped with -short")
			}
			up := &uploader{}
			_, err := submit.Submit(t.Context(), up, img, submit.Options{Workspace: "testdata", Suites: tc.suites, Arches: tc.arches, WorkDir: t.TempDir()})
			if err == nil {
				t.Fatal("Submit succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if up.calls != 0 {
				t.Errorf("%d uploads despite the error", up.calls)
			}
		})
	}
}
