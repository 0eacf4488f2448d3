package testmode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/testrunner"
	"github.com/balena/leviathan-action/suites/bundle"
	"github.com/balena/leviathan-action/suites/gotest"
)

// ImageSuitesDir is where the testrunner image keeps the built-in suites,
// as <name>.test.
const ImageSuitesDir = "/suites"

// builtinName matches the names of built-in suites; anything else is a
// path.
var builtinName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// plan is the suites ready to run: binaries in direct mode, paths inside
// the container in container mode.
type plan struct {
	direct []gotest.Suite
	inside []string
	// userDir is the host directory of the user's binaries, mounted at
	// testrunner.UserSuitesPath in container mode; "" when there are none.
	userDir string
}

// suiteKind is what an entry of Options.Suites names.
type suiteKind int

const (
	builtinSuite suiteKind = iota // "os"
	binarySuite                   // "path/os.test", compiled already
	packageSuite                  // "tests/suites/hup", a Go test package
)

// wanted is one entry of Options.Suites, resolved.
type wanted struct {
	given string
	kind  suiteKind
	name  string // in reports
	path  string // binarySuite: the file; packageSuite: the directory
	rel   string // packageSuite: the workspace-relative path, normalised; "" outside the workspace
}

// planSuites resolves o.Suites: built-in suites are compiled from
// SuitesDir in direct mode and run from the image in container mode; the
// workspace's suites come from the artifact's compiled suites when the
// image source is an artifact that has them, and are otherwise compiled
// here, in a clean environment. Every binary of the user's is copied into
// a private directory, checked and given mode 0755. Nothing touches the
// DUT. When the source is an artifact and Source.Member is empty, the
// artifact's manifest names the image's member. The returned cleanup
// removes the private directory.
func (o *Options) planSuites(ctx context.Context) (*plan, func(), error) {
	nop := func() {}
	ws, err := suitesWorkspace(o.Workspace)
	if err != nil {
		return nil, nop, err
	}
	var suites []wanted
	seen := map[string]string{}
	for _, s := range o.Suites {
		w := wanted{given: s}
		switch {
		case builtinName.MatchString(s):
			w.kind, w.name = builtinSuite, s
			if o.Image == "" {
				if o.SuitesDir == "" {
					return nil, nop, fmt.Errorf("testmode: built-in suite %q: no directory of built-in suites (GITHUB_ACTION_PATH/suites); write ./%s for a suite in the workspace", s, s)
				}
				w.path = filepath.Join(o.SuitesDir, s)
				if err := gotest.Check(w.path); err != nil {
					return nil, nop, fmt.Errorf("testmode: built-in suite %q: %w", s, err)
				}
			}
		case strings.HasSuffix(s, ".test"):
			fi, err := os.Stat(s)
			if err != nil || !fi.Mode().IsRegular() {
				return nil, nop, fmt.Errorf("testmode: suite %s: not a compiled suite (%v)", s, err)
			}
			if w.path, err = filepath.Abs(s); err != nil {
				return nil, nop, fmt.Errorf("testmode: %w", err)
			}
			w.kind, w.name = binarySuite, strings.TrimSuffix(filepath.Base(s), ".test")
		default:
			w.kind, w.path = packageSuite, s
			if !filepath.IsAbs(s) {
				w.path = filepath.Join(ws, s)
			}
			w.name = filepath.Base(w.path)
			if rel, err := filepath.Rel(ws, w.path); err == nil {
				w.rel, _ = bundle.NormPath(filepath.ToSlash(rel))
			}
		}
		if prev, ok := seen[w.name]; ok {
			return nil, nop, fmt.Errorf("testmode: suites %s and %s share the name %q; their reports would collide", prev, s, w.name)
		}
		seen[w.name] = s
		suites = append(suites, w)
	}

	needDir := false
	for _, w := range suites {
		needDir = needDir || w.kind == packageSuite || (w.kind == binarySuite && o.Image != "") || (w.kind == builtinSuite && o.Image == "")
	}
	art := o.Source.Artifact != "" || o.Source.ArtifactID != 0
	if !needDir && !(art && o.Source.Member == "") {
		return o.assemble(suites, nil, ""), nop, nil
	}
	tmp, err := os.MkdirTemp(o.WorkDir, "leviathan-suites-") // 0700
	if err != nil {
		return nil, nop, fmt.Errorf("testmode: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	fail := func(err error) (*plan, func(), error) {
		cleanup()
		return nil, nop, err
	}
	// bin is what the container mounts: readable by nobody, although its
	// parent is private (the engine resolves the host path as root).
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return fail(fmt.Errorf("testmode: %w", err))
	}
	if err := os.Chmod(bin, 0o755); err != nil { // whatever the umask
		return fail(fmt.Errorf("testmode: %w", err))
	}

	files := map[int]string{} // index in suites → binary
	why := map[int]string{}   // packages compiled here: the reason
	if art {
		if err := o.fromArtifact(ctx, suites, bin, files, why); err != nil {
			return fail(err)
		}
	} else {
		for i, w := range suites {
			if w.kind == packageSuite {
				why[i] = fmt.Sprintf("the image comes from %s, not from an artifact, so no compiled suites come with it", o.Source)
			}
		}
	}
	if err := o.compileHere(ctx, suites, tmp, bin, files, why); err != nil {
		return fail(err)
	}
	for i, w := range suites {
		if w.kind == binarySuite && o.Image != "" {
			dst := filepath.Join(bin, w.name+".test")
			if err := copyExecutable(w.path, dst); err != nil {
				return fail(fmt.Errorf("testmode: suite %s: %w", w.given, err))
			}
			// The container is FROM scratch: no loader, this GOARCH only.
			if err := bundle.CheckBinary(dst, runtime.GOARCH); err != nil {
				return fail(fmt.Errorf("testmode: suite %s cannot run in the testrunner container: %w", w.given, err))
			}
			files[i] = dst
		}
	}
	return o.assemble(suites, files, bin), cleanup, nil
}

// suitesWorkspace is the directory suite paths are relative to.
func suitesWorkspace(ws string) (string, error) {
	if ws == "" {
		ws = "."
	}
	abs, err := filepath.Abs(ws)
	if err != nil {
		return "", fmt.Errorf("testmode: workspace: %w", err)
	}
	return abs, nil
}

// fromArtifact reads the compiled suites at the head of the artifact: the
// binaries of the workspace suites for this machine's GOARCH go into bin
// (files), and why says, for each workspace suite the artifact does not
// hold, why it is compiled here. It stops reading at the first member
// that is not a suite, before the image.
func (o *Options) fromArtifact(ctx context.Context, suites []wanted, bin string, files, why map[int]string) error {
	var rels []string
	for _, w := range suites {
		if w.kind == packageSuite && w.rel != "" {
			rels = append(rels, w.rel)
		}
	}
	u := bundle.NewUnpacker(bin, runtime.GOARCH, rels)
	walk := func(m artifact.Member, r io.Reader) error {
		more, err := u.Member(m.Name, r)
		if err != nil {
			return err
		}
		if !more {
			return artifact.SkipAll
		}
		return nil
	}
	s := o.Source
	var err error
	if s.Artifact != "" {
		err = o.Artifacts.Walk(ctx, s.Artifact, walk)
	} else {
		owner, repo, _ := strings.Cut(s.Repo, "/")
		err = o.Artifacts.WalkByID(ctx, o.GitHub, owner, repo, s.ArtifactID, walk)
	}
	if err == nil {
		err = u.Check()
	}
	if err != nil {
		return fmt.Errorf("testmode: the compiled suites in %s: %w", s, err)
	}
	m := u.Manifest()
	if m != nil && s.Member == "" && m.Image != "" {
		o.Source.Member = m.Image
	}
	for i, w := range suites {
		if w.kind != packageSuite {
			continue
		}
		switch {
		case w.rel == "":
			why[i] = "it is outside the workspace, where no artifact can name it"
		case m == nil:
			why[i] = fmt.Sprintf("%s holds no compiled suites (no %s: submit had no suites input, or another tool made the artifact)", s, bundle.ManifestMember)
		default:
			if f, ok := u.Binary(w.rel); ok {
				e, _ := m.Find(w.rel, runtime.GOARCH)
				files[i] = f
				fmt.Fprintf(o.Out, "suite %s: compiled by submit (commit %s, %s, linux/%s), sha256 %s checked\n", w.rel, orUnknown(e.Commit), e.GoVersion, e.GOARCH, e.SHA256)
				continue
			}
			if arches := m.ArchesOf(w.rel); len(arches) > 0 {
				why[i] = fmt.Sprintf("submit compiled it for %s only and this testbot is %s (add %s to submit's suite-arch input)", strings.Join(arches, ", "), runtime.GOARCH, runtime.GOARCH)
			} else {
				why[i] = fmt.Sprintf("submit did not compile it (its suites input does not name %s)", w.rel)
			}
		}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// compileHere compiles the suites that are still to be built: built-in
// suites in direct mode, from the action's own checkout; workspace suites
// the artifact did not hold, statically, in an environment that holds no
// secret (gotest.CleanBuildEnv: GOPROXY=off unless SuiteGoProxy). Every
// directory is checked before anything is compiled.
func (o *Options) compileHere(ctx context.Context, suites []wanted, tmp, bin string, files, why map[int]string) error {
	for i, w := range suites {
		if _, done := files[i]; !done && w.kind == packageSuite {
			if err := gotest.Check(w.path); err != nil {
				return fmt.Errorf("testmode: %w (it is compiled on the testbot because %s)", err, why[i])
			}
		}
	}
	build := filepath.Join(tmp, "build")
	var env []string
	for i, w := range suites {
		if _, done := files[i]; done {
			continue
		}
		switch {
		case w.kind == builtinSuite && o.Image == "":
			fmt.Fprintf(o.Out, "compiling suite %s\n", w.path)
			s, err := gotest.Build(ctx, w.path, build)
			if err != nil {
				return fmt.Errorf("testmode: %w", err)
			}
			files[i] = s.Binary
		case w.kind == packageSuite:
			if env == nil {
				home := filepath.Join(tmp, "home")
				if err := os.Mkdir(home, 0o700); err != nil {
					return fmt.Errorf("testmode: %w", err)
				}
				var err error
				if env, err = gotest.CleanBuildEnv(ctx, home, o.SuiteGoProxy); err != nil {
					return fmt.Errorf("testmode: %w", err)
				}
			}
			proxy := "GOPROXY=off"
			if o.SuiteGoProxy {
				proxy = "the module proxy allowed (suite-go-proxy)"
			}
			fmt.Fprintf(o.Out, "compiling suite %s on the testbot, in an environment without secrets (%s): %s\n", w.given, proxy, why[i])
			s, err := gotest.BuildWith(ctx, w.path, build, gotest.BuildOptions{
				GOARCH: runtime.GOARCH, Static: true, TrimPath: true, Locked: true, Env: env,
			})
			if err != nil {
				return fmt.Errorf("testmode: %w", err)
			}
			dst := filepath.Join(bin, w.name+".test")
			if err := os.Rename(s.Binary, dst); err != nil {
				return fmt.Errorf("testmode: %w", err)
			}
			if err := os.Chmod(dst, 0o755); err != nil {
				return fmt.Errorf("testmode: %w", err)
			}
			files[i] = dst
		}
	}
	return nil
}

// assemble lists the suites in the order given: binaries in direct mode;
// in container mode, built-in suites from the image and the user's from
// the mounted bin.
func (o *Options) assemble(suites []wanted, files map[int]string, bin string) *plan {
	p := &plan{}
	for i, w := range suites {
		if o.Image == "" {
			f := files[i]
			if w.kind == binarySuite {
				f = w.path
			}
			p.direct = append(p.direct, gotest.Suite{Name: w.name, Binary: f})
			continue
		}
		if w.kind == builtinSuite {
			p.inside = append(p.inside, ImageSuitesDir+"/"+w.name+".test")
			continue
		}
		p.inside = append(p.inside, testrunner.UserSuitesPath+"/"+filepath.Base(files[i]))
		p.userDir = bin
	}
	return p
}

// copyExecutable copies the file src to dst with mode 0755.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, 0o755)
	}
	return err
}

// runSuites runs the planned suites against the leased, booted DUT.
func (o *Options) runSuites(ctx context.Context, c *client.Client, p *plan, env []string, res *Result) error {
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return fmt.Errorf("testmode: %w", err)
	}
	if o.Image == "" {
		sum, err := gotest.RunOnWorker(ctx, gotest.Worker{URL: o.WorkerURL, Token: o.Token, Lease: o.Lease},
			gotest.Options{Suites: p.direct, Env: env, CleanEnv: true, ReportDir: o.ReportDir, Run: o.Run, Timeout: o.SuiteTimeout, Out: o.Out})
		if err != nil {
			return fmt.Errorf("testmode: running the suites: %w", err)
		}
		res.fill(sum)
		return nil
	}
	return o.inContainer(ctx, c, p, env, res)
}

// inContainer has the worker run the planned suites in the testrunner
// container: the user's binaries are uploaded to the lease, the worker
// starts the container with its own fixed spec and streams its output
// back, and the reports come back as a tar. The job needs no Docker
// Engine and holds no credential but its lease.
func (o *Options) inContainer(ctx context.Context, c *client.Client, p *plan, env []string, res *Result) error {
	var suites []string
	for _, in := range p.inside {
		if name, ok := strings.CutPrefix(in, ImageSuitesDir+"/"); ok {
			suites = append(suites, strings.TrimSuffix(name, ".test"))
			continue
		}
		name := path.Base(in)
		if err := o.upload(ctx, c, filepath.Join(p.userDir, name), name); err != nil {
			return err
		}
		suites = append(suites, name)
	}
	g := testrunner.NewGroupWriter(o.Out)
	tr, err := c.RunTestrunner(ctx, api.TestrunnerRequest{
		Image: o.Image, Suites: suites, Run: o.Run, TimeoutSeconds: o.SuiteTimeout.Seconds(),
		Env: env, RunID: o.RunID, Job: o.Job,
	}, g, o.Out)
	if cerr := g.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("testmode: running the testrunner container: %w", err)
	}
	if !tr.HostClosed {
		o.Log.Warn("testmode: the worker could not close the testbot's other services to the testrunner container (not root, or no iptables)")
	}
	if tr.Infra != "" {
		res.Infra = &testrunner.InfraError{Reason: tr.Infra, ExitCode: tr.ExitCode, OOMKilled: tr.OOMKilled, Output: tr.InfraOutput}
		return fmt.Errorf("testmode: the testrunner container did not report on the tests: %w", res.Infra)
	}
	rc, err := c.TestrunnerReports(ctx)
	if err != nil {
		return fmt.Errorf("testmode: fetching the testrunner's reports: %w", err)
	}
	err = testrunner.ExtractReports(rc, o.ReportDir)
	rc.Close()
	if err != nil {
		return fmt.Errorf("testmode: the testrunner's reports: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(o.ReportDir, "summary.json"))
	if err != nil {
		return fmt.Errorf("testmode: the testrunner container left no summary: %w", err)
	}
	var sum gotest.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("testmode: reading the testrunner's summary: %w", err)
	}
	res.fill(&sum)
	if j := filepath.Join(o.ReportDir, "junit.xml"); fileExists(j) {
		res.JUnit = j
	}
	if tr.ExitCode != 0 && res.OK() {
		return errors.New("testmode: the testrunner container failed although its summary reports no failure")
	}
	return nil
}

// upload sends a user suite's binary to the lease.
func (o *Options) upload(ctx context.Context, c *client.Client, file, name string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("testmode: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("testmode: %w", err)
	}
	fmt.Fprintf(o.Out, "uploading suite %s (%.1f MiB) to the worker\n", name, float64(fi.Size())/(1<<20))
	if err := c.UploadSuite(ctx, name, f, fi.Size()); err != nil {
		return fmt.Errorf("testmode: uploading suite %s: %w", name, err)
	}
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (r *Result) fill(s *gotest.Summary) {
	r.Passed, r.Failed, r.Skipped = s.Passed, s.Failed, s.Skipped
	r.Errors = s.Errors
	r.JUnit = s.JUnit
}
