package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestModule checks every package of the module against the table.
func TestModule(t *testing.T) {
	pkgs := listModule(t)
	for _, v := range Check(pkgs, knownViolations) {
		t.Error(v)
	}
	for _, e := range Stale(pkgs, knownViolations) {
		t.Errorf("knownViolations lists %s imports %s, which no longer breaks a rule: delete the entry", e.From, e.To)
	}
	logLayers(t, pkgs)
}

// listModule runs `go list -json ./...` from the module root.
func listModule(t *testing.T) []Package {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the module's packages:", err)
	}
	gomod, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-json=ImportPath,Name,Imports,Error", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", cmd.Dir, err, stderr.Bytes())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Package
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list -json: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list %s: %s; its imports may be incomplete", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p.Package)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// logLayers logs how many packages each layer holds.
func logLayers(t *testing.T, pkgs []Package) {
	c := newChecker(pkgs)
	count := map[int]int{}
	for _, p := range c.order {
		if r, ok := c.rank(p); ok {
			count[r]++
		}
	}
	for i, l := range Layers {
		if i > 0 && Layers[i-1].Rank == l.Rank {
			continue // counted with the layer of the same rank above
		}
		t.Logf("rank %d: %d packages", l.Rank, count[l.Rank])
	}
}

// pkg is a synthetic package of the module.
func pkg(rel, name string, imports ...string) Package {
	p := Package{ImportPath: Module + "/" + rel, Name: name}
	for _, imp := range imports {
		if imp != "testing" && !strings.Contains(imp, ".") {
			imp = Module + "/" + imp
		}
		p.Imports = append(p.Imports, imp)
	}
	return p
}

// base is a small module every case adds one import to.
var base = []Package{
	pkg("cmd/leviathan", "main"),
	pkg("action/submit", "submit"),
	pkg("action/actioncmd", "actioncmd"),
	pkg("action/githubtest", "githubtest", "testing"),
	pkg("runner-hook/hook", "hook"),
	pkg("testbot", "testbot"),
	pkg("qemukit", "qemukit"),
	pkg("suites/sdk", "sdk", "testing"),
	pkg("suites/gotest", "gotest"),
	pkg("autokit/dut", "dut"),
	pkg("autokit/duttest", "duttest"),
	pkg("autokit/iotest", "iotest", "testing"),
	pkg("autokit/devio", "devio"),
	pkg("autokit/worker", "worker"),
	pkg("autokit/client", "client"),
	pkg("autokit/procedure", "procedure"),
	pkg("autokit/network/dnsmasq", "dnsmasq"),
	pkg("internal/syncio", "syncio"),
}

// TestCheck adds one import to base and checks the rule it breaks, if any.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     string // the rule broken; "" when the import is allowed
	}{
		{"cmd/leviathan", "action/actioncmd", ""},
		{"action/actioncmd", "action/submit", ""},
		{"action/submit", "testbot", ""},
		{"testbot", "autokit/client", ""},
		{"qemukit", "autokit/dut", ""},
		{"autokit/dut", "internal/syncio", ""},
		{"autokit/duttest", "autokit/iotest", ""},              // a test package may import a test package
		{"testbot", "suites/gotest", ""},                       // gotest is production code despite its name
		{"autokit/devio", "github.com/x/sys/unix", ""},         // outside the module: not checked
		{"autokit/dut", "testbot", "its own layer or lower"},   // upward
		{"action/submit", "action/actioncmd", "its own layer"}, // upward inside one tree
		{"action/submit", "runner-hook/hook", "never import each other"},
		{"action/actioncmd", "runner-hook/hook", ""}, // layer 5 wiring may compose both products
		{"runner-hook/hook", "action/submit", "never import each other"},
		{"qemukit", "autokit/worker", "never autokit/worker or autokit/client"},
		{"qemukit", "autokit/client", "never autokit/worker or autokit/client"},
		{"autokit/procedure", "autokit/network/dnsmasq", "does not import autokit/network"},
		{"suites/sdk", "autokit/worker", "suites do not import autokit/worker"},
		{"autokit/devio", "autokit/iotest", "never imports a test package"},   // imports "testing"
		{"autokit/worker", "autokit/duttest", "never imports a test package"}, // named …test
		{"action/submit", "action/githubtest", "never imports a test package"},
	} {
		t.Run(tc.from+"→"+tc.to, func(t *testing.T) {
			vs := Check(withImport(tc.from, tc.to), nil)
			if tc.want == "" {
				for _, v := range vs {
					t.Errorf("allowed import reported: %s", v)
				}
				return
			}
			if len(vs) != 1 {
				t.Fatalf("got %d violations %v, want one breaking %q", len(vs), vs, tc.want)
			}
			v := vs[0]
			if v.Importer != tc.from || v.Imported != tc.to || !strings.Contains(v.Rule, tc.want) || v.Fix == "" {
				t.Errorf("got %+v, want %s imports %s breaking %q, with a fix", v, tc.from, tc.to, tc.want)
			}
			if s := v.String(); !strings.Contains(s, tc.from+" imports "+tc.to) || !strings.Contains(s, "fix: ") {
				t.Errorf("violation line %q does not name importer, imported and fix", s)
			}
		})
	}
}

// withImport is base with from also importing to.
func withImport(from, to string) []Package {
	pkgs := append([]Package(nil), base...)
	for i, p := range pkgs {
		if p.ImportPath == Module+"/"+from {
			pkgs[i] = pkg(from, p.Name, append(relImports(p), to)...)
		}
	}
	return pkgs
}

func relImports(p Package) []string {
	var rel []string
	for _, imp := range p.Imports {
		rel = append(rel, strings.TrimPrefix(imp, Module+"/"))
	}
	return rel
}

func TestUnplacedPackage(t *testing.T) {
	vs := Check(append(base, pkg("newtree/thing", "thing")), nil)
	if len(vs) != 1 || vs[0].Importer != "newtree/thing" || !strings.Contains(vs[0].Fix, "add it to Layers") {
		t.Fatalf("Check of a package in no layer = %v, want one violation saying to add it to Layers", vs)
	}
}

func TestKnownViolations(t *testing.T) {
	pkgs := withImport("autokit/dut", "testbot")
	known := map[Edge]string{{"autokit/dut", "testbot"}: "being moved"}
	if vs := Check(pkgs, known); len(vs) != 0 {
		t.Errorf("Check reported a known violation: %v", vs)
	}
	if stale := Stale(pkgs, known); len(stale) != 0 {
		t.Errorf("Stale(live entry) = %v, want none", stale)
	}
	if stale := Stale(base, known); len(stale) != 1 || stale[0] != (Edge{"autokit/dut", "testbot"}) {
		t.Errorf("Stale(entry no longer imported) = %v, want it", stale)
	}
}

func TestLayerOfLongestPattern(t *testing.T) {
	c := newChecker(nil)
	for p, want := range map[string]int{
		"action/actioncmd":         5,
		"action/submit":            4,
		"action":                   4,
		"actionx":                  -1,
		"bench":                    5,
		"bench/flash":              5,
		"internal/ghlog/ghlogtest": 0,
		"internal/localrun":        4,
		"internal/other":           -1,
		"testbot":                  3,
	} {
		got, ok := c.rank(p)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("rank(%s) = %d, want %d", p, got, want)
		}
	}
}
