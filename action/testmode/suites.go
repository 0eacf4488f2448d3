package testmode

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/balena/leviathan-action/action/artifact"
	"github.com/balena/leviathan-action/suites/bundle"
	"github.com/balena/leviathan-action/suites/gotest"
	"github.com/balena/leviathan-action/testbot"
)

// builtinName matches the names of built-in suites; anything else is a
// path.
var builtinName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

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
func (o *Options) planSuites(ctx context.Context) (*testbot.Plan, func(), error) {
	nop := func() {}
	ws, err := suitesWorkspace(o.Workspace)
	if err != nil {
		return nil, nop, err
	}
	suites, err := o.resolveSuites(ws)
	if err != nil {
		return nil, nop, err
	}

	needDir := false
	for _, w := range suites {
		needDir = needDir || w.kind == packageSuite || (w.kind == binarySuite && o.Image != "") || (w.kind == builtinSuite && o.Image == "")
	}
	art := o.Source.Artifact != "" || o.Source.ArtifactID != 0
	if !needDir && !(art && o.Source.Member == "") {
		return o.assemble(suites, nil), nop, nil
	}
	tmp, err := os.MkdirTemp(o.WorkDir, "leviathan-suites-") // 0700
	if err != nil {
		return nil, nop, fmt.Errorf("testmode: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	fail := func(err error) (*testbot.Plan, func(), error) {
		cleanup()
		return nil, nop, err
	}
	// bin holds the user's binaries, run from here in direct mode and
	// uploaded to the lease in container mode.
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
	return o.assemble(suites, files), cleanup, nil
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

// resolveSuites resolves each entry of o.Suites against the workspace ws;
// two suites with one name would write over each other's reports.
func (o *Options) resolveSuites(ws string) ([]wanted, error) {
	var suites []wanted
	seen := map[string]string{}
	for _, s := range o.Suites {
		w, err := o.resolve(s, ws)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[w.name]; ok {
			return nil, fmt.Errorf("testmode: suites %s and %s share the name %q; their reports would collide", prev, s, w.name)
		}
		seen[w.name] = s
		suites = append(suites, w)
	}
	return suites, nil
}

// resolve says what the entry s names: a built-in suite (checked in direct
// mode, where it is compiled from SuitesDir), a compiled suite, or a Go
// test package in the workspace.
func (o *Options) resolve(s, ws string) (wanted, error) {
	w := wanted{given: s}
	switch {
	case builtinName.MatchString(s):
		w.kind, w.name = builtinSuite, s
		if o.Image != "" {
			return w, nil
		}
		if o.SuitesDir == "" {
			return w, fmt.Errorf("testmode: built-in suite %q: no directory of built-in suites (GITHUB_ACTION_PATH/suites); write ./%s for a suite in the workspace", s, s)
		}
		w.path = filepath.Join(o.SuitesDir, s)
		if err := gotest.Check(w.path); err != nil {
			return w, fmt.Errorf("testmode: built-in suite %q: %w", s, err)
		}
	case strings.HasSuffix(s, ".test"):
		fi, err := os.Stat(s)
		if err != nil || !fi.Mode().IsRegular() {
			return w, fmt.Errorf("testmode: suite %s: not a compiled suite (%v)", s, err)
		}
		if w.path, err = filepath.Abs(s); err != nil {
			return w, fmt.Errorf("testmode: %w", err)
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
	return w, nil
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
// in container mode, built-in suites by name (the image has them) and the
// user's binaries, uploaded to the lease before the container starts.
func (o *Options) assemble(suites []wanted, files map[int]string) *testbot.Plan {
	p := &testbot.Plan{Testrunner: o.Image}
	for i, w := range suites {
		switch {
		case o.Image == "" && w.kind == binarySuite:
			p.Direct = append(p.Direct, gotest.Suite{Name: w.name, Binary: w.path})
		case o.Image == "":
			p.Direct = append(p.Direct, gotest.Suite{Name: w.name, Binary: files[i]})
		case w.kind == builtinSuite:
			p.Container = append(p.Container, testbot.ContainerSuite{Name: w.name})
		default:
			p.Container = append(p.Container, testbot.ContainerSuite{Name: filepath.Base(files[i]), Binary: files[i]})
		}
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
