// Package layers states which packages of the module may import which, and
// checks a set of packages against it. Its test runs the check over the
// whole module (`go list -json ./...`), so a forbidden import fails
// `go test ./...` with a line naming the importer, the imported package,
// the rule and how to fix it.
//
// The layers, top to bottom (a package imports only its own layer or
// lower):
//
//	6 commands:        cmd/..., internal/release/cmd; internal/testenv, the tests' kit; scripts/..., the shell scripts' tests
//	5 command wiring:  action/actioncmd, runner-hook/hookcmd, internal/leviathancmd, bench/...
//	4 products:        action/..., runner-hook/..., internal/localrun, internal/testrunnerimage, internal/release
//	3 the testbot run: testbot/...
//	2 suites, QemuKit: suites/..., qemukit/...
//	1 AutoKit:         autokit/...
//	0 base utilities:  internal/ctxtime, ghlog, sealenv, syncio, githubspec, layers, progress
//
// Beside the layers: in layer 4, action/... and runner-hook/... never
// import each other; qemukit uses AutoKit's interfaces and drivers, never its worker or
// client; autokit/procedure does not import autokit/network; suites do not
// import autokit/worker; and production code never imports a test package
// (one whose name ends in "test", or that imports "testing") — only other
// test packages may.
//
// Limits: the check reads production imports (go list's Imports, not
// TestImports) for the host's GOOS and GOARCH, so a file behind another
// build tag is not seen. Every package of the module must appear in
// Layers; a new one fails until it is added.
package layers

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the module path; the table and violations use paths relative
// to it ("autokit/dut").
const Module = "github.com/balena/leviathan-action"

// Package is what the check needs of one package, as `go list -json`
// prints it.
type Package struct {
	ImportPath string
	Name       string
	Imports    []string // production imports only
}

// Layer is one rank of the module: its packages import only packages of
// this rank or lower.
type Layer struct {
	Rank int
	Name string
	// Patterns are module-relative paths; "x/..." stands for x and every
	// package below it. When several layers match a package, the longest
	// pattern wins (action/actioncmd is in layer 5, the rest of action/...
	// in layer 4).
	Patterns []string
}

// Layers is the table, top to bottom.
var Layers = []Layer{
	{6, "commands", []string{"cmd/...", "internal/release/cmd"}},
	// internal/testenv is the module's test kit: only tests import it
	// (production code may not: it imports "testing"), and it may use any
	// package, as a test may.
	{6, "the test kit", []string{"internal/testenv"}},
	// scripts/... holds the make targets' shell scripts; its Go packages
	// (scripts/depstest) only test them and import nothing of the module.
	{6, "the scripts' tests", []string{"scripts/..."}},
	{5, "command wiring", []string{"action/actioncmd", "runner-hook/hookcmd", "internal/leviathancmd", "bench/..."}},
	// action/acttest holds only the test that runs the action in act;
	// action/... covers it, and it is named so the table lists it.
	{4, "products", []string{"action/...", "action/acttest", "runner-hook/...", "internal/localrun", "internal/testrunnerimage", "internal/release"}},
	{3, "the testbot run", []string{"testbot/..."}},
	{2, "suites and QemuKit", []string{"suites/...", "qemukit/..."}},
	{1, "AutoKit", []string{"autokit/..."}},
	{0, "base utilities", []string{
		"internal/ctxtime", "internal/ghlog/...", "internal/sealenv", "internal/syncio",
		"internal/githubspec", "internal/layers", "internal/progress", "internal/benchrow",
	}},
}

// notTestPackages are production packages whose names end in "test" for
// another reason, with that reason.
var notTestPackages = map[string]string{
	"suites/gotest": "runs compiled `go test` binaries against a worker; production code of the action and `leviathan run`",
}

// Edge is one import: From imports To (module-relative paths).
type Edge struct{ From, To string }

// knownViolations are imports of the real tree that break a rule and are
// being removed by work in progress elsewhere, each with the reason. The
// check skips them, and reports an entry that no longer occurs so it is
// deleted. The goal is an empty set.
var knownViolations = map[Edge]string{}

// Violation is one import that breaks a rule, or a package the table does
// not place (Imported is then empty).
type Violation struct {
	Importer, Imported string // module-relative
	Rule               string
	Fix                string
}

func (v Violation) String() string {
	if v.Imported == "" {
		return fmt.Sprintf("%s: %s; fix: %s", v.Importer, v.Rule, v.Fix)
	}
	return fmt.Sprintf("%s imports %s: %s; fix: %s", v.Importer, v.Imported, v.Rule, v.Fix)
}

// rule is one constraint on an import from → to between module packages.
// broken returns the fix when the import breaks the rule, or "".
type rule struct {
	name   string
	broken func(c *checker, from, to string) (fix string)
}

var rules = []rule{
	{"a package imports only packages of its own layer or lower", (*checker).upward},
	{"in layer 4, action/... and runner-hook/... never import each other", (*checker).sideways},
	{"qemukit uses AutoKit's interfaces and drivers, never autokit/worker or autokit/client", (*checker).qemukitReach},
	{"autokit/procedure does not import autokit/network/...", (*checker).procedureNetwork},
	{"suites do not import autokit/worker", (*checker).suitesWorker},
	{"production code never imports a test package", (*checker).testImport},
}

// Check returns the violations among pkgs, skipping known (the real tree's
// known violations, or nil): importers in path order, then their imports in
// order. Imports outside the module are not checked.
func Check(pkgs []Package, known map[Edge]string) []Violation {
	c := newChecker(pkgs)
	var vs []Violation
	for _, p := range c.order {
		if _, ok := c.rank(p); !ok {
			vs = append(vs, Violation{Importer: p, Rule: "every package of the module is in a layer",
				Fix: "add it to Layers in internal/layers/layers.go"})
			continue
		}
		for _, to := range c.imports[p] {
			if _, ok := c.rank(to); !ok {
				continue // reported as an importer of its own
			}
			for _, r := range rules {
				fix := r.broken(c, p, to)
				if fix == "" {
					continue
				}
				if _, ok := known[Edge{p, to}]; ok {
					continue
				}
				vs = append(vs, Violation{Importer: p, Imported: to, Rule: r.name, Fix: fix})
			}
		}
	}
	return vs
}

// Stale returns the entries of known that are no longer imports of pkgs
// breaking a rule, so they can be deleted.
func Stale(pkgs []Package, known map[Edge]string) []Edge {
	live := map[Edge]bool{}
	for _, v := range Check(pkgs, nil) {
		live[Edge{v.Importer, v.Imported}] = true
	}
	var stale []Edge
	for e := range known {
		if !live[e] {
			stale = append(stale, e)
		}
	}
	slices.SortFunc(stale, func(a, b Edge) int { return strings.Compare(a.From+" "+a.To, b.From+" "+b.To) })
	return stale
}

// checker holds the module's packages by relative path.
type checker struct {
	order   []string            // relative paths, sorted
	name    map[string]string   // package name
	imports map[string][]string // module imports, relative
	testing map[string]bool     // imports "testing"
}

func newChecker(pkgs []Package) *checker {
	c := &checker{name: map[string]string{}, imports: map[string][]string{}, testing: map[string]bool{}}
	for _, p := range pkgs {
		rel, ok := relative(p.ImportPath)
		if !ok {
			continue
		}
		c.order = append(c.order, rel)
		c.name[rel] = p.Name
		for _, imp := range p.Imports {
			if imp == "testing" {
				c.testing[rel] = true
			}
			if r, ok := relative(imp); ok {
				c.imports[rel] = append(c.imports[rel], r)
			}
		}
	}
	slices.Sort(c.order)
	return c
}

// relative is path without the module prefix, and whether it is in the
// module.
func relative(path string) (string, bool) {
	if path == Module {
		return ".", true
	}
	return strings.CutPrefix(path, Module+"/")
}

// rank is the layer of the module-relative path p: the layer of the
// longest pattern matching it.
func (c *checker) rank(p string) (int, bool) {
	best, rank := -1, 0
	for _, l := range Layers {
		for _, pat := range l.Patterns {
			if n := matchLen(pat, p); n > best {
				best, rank = n, l.Rank
			}
		}
	}
	return rank, best >= 0
}

// matchLen is the length of pat's literal part when it matches p, or -1.
func matchLen(pat, p string) int {
	if base, ok := strings.CutSuffix(pat, "/..."); ok {
		if p == base || strings.HasPrefix(p, base+"/") {
			return len(base)
		}
		return -1
	}
	if p == pat {
		return len(pat)
	}
	return -1
}

// under reports whether p is dir or below it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// isTest reports whether p is a test package: its name ends in "test", or
// it imports "testing".
func (c *checker) isTest(p string) bool {
	if _, ok := notTestPackages[p]; ok {
		return false
	}
	return c.testing[p] || strings.HasSuffix(c.name[p], "test")
}

// whyTest says what makes the test package p one.
func (c *checker) whyTest(p string) string {
	if c.testing[p] {
		return `it imports "testing"`
	}
	return fmt.Sprintf("its name %s ends in %q", c.name[p], "test")
}

func (c *checker) upward(from, to string) string {
	rf, _ := c.rank(from)
	rt, _ := c.rank(to)
	if rt <= rf {
		return ""
	}
	return fmt.Sprintf("%s is in layer %d, %s in layer %d: move what %s needs into layer %d or below, or have %s define an interface the higher layer implements",
		from, rf, to, rt, from, rf, from)
}

// sideways holds in layer 4 only: the command wiring of layer 5
// (action/actioncmd, runner-hook/hookcmd) may compose both products.
func (c *checker) sideways(from, to string) string {
	rf, _ := c.rank(from)
	rt, _ := c.rank(to)
	if rf != 4 || rt != 4 {
		return ""
	}
	if (under(from, "action") && under(to, "runner-hook")) || (under(from, "runner-hook") && under(to, "action")) {
		return "move the code both need into a lower layer (testbot, autokit or a base utility in internal/) and import it from there"
	}
	return ""
}

func (c *checker) qemukitReach(from, to string) string {
	if under(from, "qemukit") && (under(to, "autokit/worker") || under(to, "autokit/client")) {
		return "depend on the interfaces in autokit/dut (or a driver package) and let the caller wire QemuKit to the worker or client"
	}
	return ""
}

func (c *checker) procedureNetwork(from, to string) string {
	if under(from, "autokit/procedure") && under(to, "autokit/network") {
		return "move what procedure needs (host command execution is autokit/hostcmd) below both, or take it as an interface"
	}
	return ""
}

func (c *checker) suitesWorker(from, to string) string {
	if under(from, "suites") && under(to, "autokit/worker") {
		return "reach the worker through autokit/client and the types in autokit/api"
	}
	return ""
}

func (c *checker) testImport(from, to string) string {
	if c.isTest(from) || !c.isTest(to) {
		return ""
	}
	return fmt.Sprintf("%s is a test package (%s): move what %s needs of it into a production package (as autokit/devio was split from autokit/iotest), or import it only from _test.go files",
		to, c.whyTest(to), from)
}
