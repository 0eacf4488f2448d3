package actioncmd_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/balena/leviathan-action/action/config"
)

// repoRoot is the module's root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type actionYAML struct {
	Name, Description, Author string
	Branding                  struct{ Icon, Color string }
	Inputs                    map[string]struct {
		Description string
		Required    bool
		Default     *string
	}
	Outputs map[string]struct{ Description, Value string }
	Runs    struct {
		Using string
		Steps []struct {
			ID   string
			Uses string
			Run  string
			Env  map[string]string
		}
	}
}

// TestActionYAML checks action.yml against the command: every input the
// configuration reads is declared and passed to the command, and every
// output the command sets is declared.
func TestActionYAML(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Name == "" || a.Description == "" || a.Author == "" || a.Branding.Icon == "" || a.Branding.Color == "" {
		t.Errorf("action.yml lacks name, description, author or branding")
	}
	var names []string
	for n, in := range a.Inputs {
		names = append(names, n)
		if in.Description == "" {
			t.Errorf("input %s has no description", n)
		}
	}
	sort.Strings(names)
	want := slices.Sorted(slices.Values(config.Inputs))
	if !slices.Equal(names, want) {
		t.Errorf("action.yml inputs %q\nconfig.Inputs %q", names, want)
	}
	if !a.Inputs["mode"].Required {
		t.Errorf("mode is not required")
	}
	defaults := map[string]string{"check-name": config.DefaultCheckName, "github-token": "${{ github.token }}", "verify": "true", "delta": "false"}
	for n, d := range defaults {
		if got := a.Inputs[n].Default; got == nil || *got != d {
			t.Errorf("input %s: default %v, want %q", n, got, d)
		}
	}

	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q", a.Runs.Using)
	}
	var run *struct {
		ID   string
		Uses string
		Run  string
		Env  map[string]string
	}
	for i := range a.Runs.Steps {
		if a.Runs.Steps[i].ID == "run" {
			run = &a.Runs.Steps[i]
		}
	}
	if run == nil {
		t.Fatal("no step with id run")
	}
	for _, n := range config.Inputs {
		env := "INPUT_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
		if got, want := run.Env[env], "${{ inputs."+n+" }}"; got != want {
			t.Errorf("the run step passes %s as %q, want %q", env, got, want)
		}
	}
	outputs := []string{"artifact-name", "artifact-id", "image-sha256", "passed", "failed", "skipped", "conclusion", "check-run-url"}
	for _, o := range outputs {
		if got, want := a.Outputs[o].Value, "${{ steps.run.outputs."+o+" }}"; got != want {
			t.Errorf("output %s: value %q, want %q", o, got, want)
		}
	}
	if len(a.Outputs) != len(outputs) {
		t.Errorf("action.yml declares %d outputs, want %d", len(a.Outputs), len(outputs))
	}
	// No registry address in what this package ships.
	for _, f := range []string{"action.yml", "Dockerfile"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^FROM\s+[^$\s]+[./:]`).Find(b); m != nil {
			t.Errorf("%s names a base image %q; take it as a build argument", f, m)
		}
	}
}

// actionlintConfig declares the example workflows' self-hosted labels.
const actionlintConfig = `self-hosted-runner:
  labels: [leviathan, raspberrypi4-64, generic-amd64]
`

// TestExampleWorkflows lints examples/workflows with actionlint (the tools
// module's), with balena/leviathan-action@v1 replaced by ./ so that every
// input and output the examples use is checked against action.yml, and the
// project's own workflows in .github/workflows.
func TestExampleWorkflows(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to run actionlint:", err)
	}
	root := repoRoot(t)
	examples, err := filepath.Glob(filepath.Join(root, "examples", "workflows", "*.yml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example workflows: %v", err)
	}
	// A project for actionlint: .git, .github/workflows and the action.
	proj := t.TempDir()
	wf := filepath.Join(proj, ".github", "workflows")
	for _, d := range []string{filepath.Join(proj, ".git"), wf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(root, "action.yml"), filepath.Join(proj, "action.yml"))
	if err := os.WriteFile(filepath.Join(proj, ".github", "actionlint.yaml"), []byte(actionlintConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range examples {
		b, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("uses: balena/leviathan-action@v1")) {
			t.Errorf("%s does not use balena/leviathan-action@v1", filepath.Base(e))
		}
		b = bytes.ReplaceAll(b, []byte("uses: balena/leviathan-action@v1"), []byte("uses: ./"))
		p := filepath.Join(wf, filepath.Base(e))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// The project's own workflows, as they are.
	own, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(own) == 0 {
		t.Fatalf("no workflows in .github/workflows: %v", err)
	}
	files = append(files, own...)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"run", "-C", filepath.Join(root, "tools"), "github.com/rhysd/actionlint/cmd/actionlint",
		"-no-color", "-config-file", filepath.Join(proj, ".github", "actionlint.yaml")}, files...)
	cmd := exec.CommandContext(ctx, "go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil {
		// Findings name the temporary copies; point at the examples.
		report := strings.ReplaceAll(out.String(), wf, filepath.Join(root, "examples", "workflows"))
		t.Fatalf("actionlint (uses: ./ in place of balena/leviathan-action@v1): %v\n%s", err, report)
	}
	t.Logf("actionlint: %d workflows clean %s", len(files), out.String())
}
