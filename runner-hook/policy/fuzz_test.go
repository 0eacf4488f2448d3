package policy

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var fileLine = regexp.MustCompile(`^policy: fuzz\.yaml(:[1-9][0-9]*)?: `)

// FuzzParse checks that Parse never panics, that every error is a
// *FileError naming the file, that whatever it accepts validates, and that
// no accepted policy lets a pull request from a fork through without a
// label. The seed corpus is testdata/fuzz/FuzzParse plus the files in
// testdata.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	seeds = append(seeds, "testdata/policy.example.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	forkJob := Job{
		Event: "pull_request_target", Repository: "balena-os/balena-generic", Actor: "contributor",
		WorkflowRef: "balena-os/balena-generic/.github/workflows/test.yml@refs/heads/main",
		Payload: Payload{Action: "synchronize", PullRequest: &PullRequest{
			Number: 1,
			Head:   Branch{Repo: &Repository{ID: 2, FullName: "contributor/balena-generic", Fork: true}},
			Base:   Branch{Repo: &Repository{ID: 1, FullName: "balena-os/balena-generic"}},
		}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || !fileLine.MatchString(err.Error()) {
				t.Fatalf("error %q is not a *FileError naming fuzz.yaml", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy that does not validate: %v", err)
		}
		if d := p.Decide(forkJob); d.Allow {
			t.Fatalf("a fork without a label was allowed: %v", d)
		}
	})
}
