package policy

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden error messages in testdata/errors")

// TestParseErrors checks each broken file in testdata/errors against the
// message in its .golden file: every one names the file and the line.
func TestParseErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/errors/*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatal("loaded without an error")
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != f || fe.Line < 1 {
				t.Errorf("got %#v, want a *FileError naming %s and a line", err, f)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("got  %swant %s", got, want)
			}
		})
	}
}

func TestParseExample(t *testing.T) {
	p, err := Load("testdata/policy.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{
		Source:                 "testdata/policy.example.yaml",
		Repositories:           []string{"balena-os/*", "balena-io-modules/leviathan-*"},
		Actors:                 []string{},
		Workflows:              []string{"balena-os/*/.github/workflows/yocto-build-deploy.yml", "balena-os/*/.github/workflows/leviathan-*.yml"},
		Events:                 []string{"push", "pull_request", "pull_request_target", "workflow_dispatch", "schedule"},
		PullRequestForks:       Refuse,
		PullRequestTargetForks: AllowWithLabel,
		TrustedLabels:          []string{"ok-to-test"},
		TrustedActors:          []string{"balena-ci", "*-maintainer"},
	}
	if !equal(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func equal(a, b *Policy) bool {
	return a.Source == b.Source &&
		slices.Equal(a.Repositories, b.Repositories) && slices.Equal(a.Actors, b.Actors) &&
		slices.Equal(a.Workflows, b.Workflows) && slices.Equal(a.Events, b.Events) &&
		a.PullRequestForks == b.PullRequestForks && a.PullRequestTargetForks == b.PullRequestTargetForks &&
		slices.Equal(a.TrustedLabels, b.TrustedLabels) && slices.Equal(a.TrustedActors, b.TrustedActors)
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		d := Default()
		d.Source = "p.yaml"
		if !equal(p, d) {
			t.Errorf("%q: got %+v, want the default", src, p)
		}
	}
}

func TestParseKeepsDefaultsForKeysLeftOut(t *testing.T) {
	p := mustParse(t, "repositories: [balena-os/*]\n")
	if !slices.Equal(p.Events, DefaultEvents) || !slices.Equal(p.TrustedLabels, DefaultTrustedLabels) ||
		p.PullRequestForks != Refuse || p.PullRequestTargetForks != Refuse {
		t.Errorf("%+v", p)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "policy.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "policy: open ") {
		t.Fatalf("got %v, want a policy: error matching fs.ErrNotExist", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	name := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(name, []byte(strings.Repeat("#", MaxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(name); err == nil || !strings.Contains(err.Error(), name+": larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Policy{
		{Repositories: []string{"balena-os/[x"}},
		{Actors: []string{""}},
		{Workflows: []string{"test.yml"}},
		{Events: []string{"Push"}},
		{PullRequestTargetForks: "allow"},
	} {
		err := p.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("%+v: got %v", p, err)
		}
	}
}
