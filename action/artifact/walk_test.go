package artifact_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/action/artifact/artifacttest"
	"github.com/balena/leviathan-action/action/githubtest"
)

// TestWalk reads an artifact's members in order and stops where the
// function stops, for this run's artifact and another run's by id.
func TestWalk(t *testing.T) {
	srv := artifacttest.Start(t)
	c := newClient(t, srv.Config())
	big := payload(4 << 20)
	if _, err := c.Upload(t.Context(), "bundle",
		artifact.File{Name: "suites/manifest.json", Reader: strings.NewReader(`{"version":1}`), Compress: true},
		artifact.File{Name: "suites/a.amd64.test", Reader: strings.NewReader("binary a")},
		artifact.File{Name: "balena.img", Reader: bytes.NewReader(big)},
	); err != nil {
		t.Fatal(err)
	}
	zip, err := os.ReadFile(srv.ZipPath("bundle"))
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.NewServer(t)
	id := gh.AddArtifact("balena-os", "balena-generic", githubtest.Artifact{Name: "bundle", RunID: 7, Zip: zip})

	walks := map[string]func(artifact.WalkFunc) error{
		"this run": func(fn artifact.WalkFunc) error { return c.Walk(t.Context(), "bundle", fn) },
		"by id": func(fn artifact.WalkFunc) error {
			return c.WalkByID(t.Context(), gh.Client(githubtest.DefaultToken), "balena-os", "balena-generic", id, fn)
		},
	}
	for name, walk := range walks {
		t.Run(name, func(t *testing.T) {
			var got []string
			err := walk(func(m artifact.Member, r io.Reader) error {
				if !strings.HasPrefix(m.Name, "suites/") {
					return artifact.SkipAll // before the image's bytes
				}
				b, err := io.ReadAll(r)
				got = append(got, m.Name+"="+string(b))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := `suites/manifest.json={"version":1} suites/a.amd64.test=binary a`; strings.Join(got, " ") != want {
				t.Errorf("walked %q, want %q", got, want)
			}

			var names []string
			if err := walk(func(m artifact.Member, r io.Reader) error { names = append(names, m.Name); return nil }); err != nil {
				t.Fatal(err)
			}
			if strings.Join(names, " ") != "suites/manifest.json suites/a.amd64.test balena.img" {
				t.Errorf("members %q", names)
			}

			stop := errors.New("stop here")
			if err := walk(func(artifact.Member, io.Reader) error { return stop }); !errors.Is(err, stop) {
				t.Errorf("err = %v, want the function's", err)
			}
		})
	}
	if err := c.Walk(t.Context(), "missing", func(artifact.Member, io.Reader) error { return nil }); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("walking a missing artifact: %v", err)
	}
}
