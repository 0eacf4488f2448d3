package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/report"
)

// workspace makes a checkout with a root module, a nested module, files
// of the same name in two packages and files in directories that are not
// searched. It returns its path.
func workspace(t testing.TB) string {
	t.Helper()
	ws := t.TempDir()
	files := map[string]string{
		"go.mod":                          "// the root module\nmodule github.com/x/y // trailing comment\n\ngo 1.26\n",
		"pkg/sub/x_test.go":               "package sub\n",
		"a/dup_test.go":                   "package a\n",
		"b/dup_test.go":                   "package b\n",
		"tests/hidden/hidden_test.go":     "package hidden\n",
		"third/lib/go.mod":                "module \"github.com/x/y/lib\"\n",
		"third/lib/inner/lib_test.go":     "package inner\n",
		"other/go.mod":                    "module example.com/other\n",
		"other/cmd/tool/tool_test.go":     "package tool\n",
		"vendor/github.com/z/z_test.go":   "package z\n",
		"node_modules/m/m_test.go":        "package m\n",
		".git/hooks/hook_test.go":         "package hooks\n",
		"results/junit.xml":               "<testsuites/>\n",
		"deep/er/and/deeper/deep_test.go": "package deeper\n",
	}
	for name, text := range files {
		p := filepath.Join(ws, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

func TestResolver(t *testing.T) {
	ws := workspace(t)
	link := filepath.Join(t.TempDir(), "checkout")
	if err := os.Symlink(ws, link); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "x_test.go"), nil, 0o644)
	tests := []struct {
		name           string
		ws             string // the workspace given; ws when empty and not noWorkspace
		noWorkspace    bool
		file, pkg, dir string
		want           string // "" when it must not be placed
	}{
		{name: "bare name through the root module", file: "x_test.go", pkg: "github.com/x/y/pkg/sub", want: "pkg/sub/x_test.go"},
		{name: "bare name through a nested module", file: "lib_test.go", pkg: "github.com/x/y/lib/inner", want: "third/lib/inner/lib_test.go"},
		{name: "nested module of another path", file: "tool_test.go", pkg: "example.com/other/cmd/tool", want: "other/cmd/tool/tool_test.go"},
		{name: "duplicate name resolved by the package", file: "dup_test.go", pkg: "github.com/x/y/b", want: "b/dup_test.go"},
		{name: "duplicate name without a package: as given", file: "dup_test.go", want: "dup_test.go"},
		{name: "duplicate name with a package of no module: as given", file: "dup_test.go", pkg: "hidden", want: "dup_test.go"},
		{name: "unique name without a package", file: "hidden_test.go", pkg: "hidden", want: "tests/hidden/hidden_test.go"},
		{name: "unique name, the package's directory lacks it", file: "deep_test.go", pkg: "github.com/x/y/pkg/sub", want: "deep/er/and/deeper/deep_test.go"},
		{name: "suite directory first", file: "dup_test.go", dir: "a", want: "a/dup_test.go"},
		{name: "suite directory given absolute", file: "hidden_test.go", dir: "{ws}/tests/hidden", want: "tests/hidden/hidden_test.go"},
		{name: "suite directory outside, found elsewhere", file: "hidden_test.go", dir: "/somewhere/else", want: "tests/hidden/hidden_test.go"},
		{name: "relative path that exists", file: "./pkg/sub/x_test.go", want: "pkg/sub/x_test.go"},
		{name: "relative path ending a unique file", file: "hidden/hidden_test.go", want: "tests/hidden/hidden_test.go"},
		{name: "relative path leaving the workspace", file: "../x_test.go"},
		{name: "relative path through .. back in", file: "pkg/../pkg/sub/x_test.go", want: "pkg/sub/x_test.go"},
		{name: "absolute inside", file: "{ws}/tests/hidden/hidden_test.go", want: "tests/hidden/hidden_test.go"},
		{name: "absolute inside, workspace given through a symlink", ws: link, file: "{ws}/pkg/sub/x_test.go", want: "pkg/sub/x_test.go"},
		{name: "absolute through the symlink, workspace given real", file: link + "/pkg/sub/x_test.go", want: "pkg/sub/x_test.go"},
		{name: "absolute inside, not a file of the checkout", file: "{ws}/generated/gen_test.go", want: "generated/gen_test.go"},
		{name: "absolute outside", file: outside + "/x_test.go"},
		{name: "absolute that climbs out", file: "{ws}/../x_test.go"},
		{name: "the workspace itself", file: "{ws}"},
		{name: "vendor is not searched", file: "z_test.go", want: "z_test.go"},
		{name: "node_modules is not searched", file: "m_test.go", want: "m_test.go"},
		{name: ".git is not searched", file: "hook_test.go", want: "hook_test.go"},
		{name: "missing file: as given", file: "missing_test.go", pkg: "github.com/x/y/pkg/sub", want: "missing_test.go"},
		{name: "missing file: in the suite directory", file: "missing_test.go", dir: "tests/os", want: "tests/os/missing_test.go"},
		{name: "empty", file: ""},
		{name: "no workspace: bare name in the suite directory", noWorkspace: true, file: "x_test.go", dir: "tests/os", want: "tests/os/x_test.go"},
		{name: "no workspace: relative kept", noWorkspace: true, file: "./a/b_test.go", want: "a/b_test.go"},
		{name: "no workspace: absolute dropped", noWorkspace: true, file: "/home/runner/work/y/y/x_test.go"},
		{name: "no workspace: leaving dropped", noWorkspace: true, file: "../x_test.go"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.ws
			if root == "" {
				root = ws
			}
			if tc.noWorkspace {
				root = ""
			}
			expand := func(s string) string { return strings.ReplaceAll(s, "{ws}", root) }
			got, ok := report.NewResolver(root).Resolve(expand(tc.file), tc.pkg, expand(tc.dir))
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Resolve(%q, %q, %q) = %q, %v; want %q", tc.file, tc.pkg, tc.dir, got, ok, tc.want)
			}
		})
	}
}

// goJUnitReport is what go-junit-report writes for `go test ./...` in the
// workspace: classname is the import path, the file a bare name in the
// output.
const goJUnitReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
	<testsuite name="github.com/x/y/pkg/sub" tests="1" failures="1">
		<testcase name="TestSub" classname="github.com/x/y/pkg/sub" time="0.010">
			<failure message="Failed"><![CDATA[    x_test.go:42: sub is wrong]]></failure>
		</testcase>
	</testsuite>
	<testsuite name="github.com/x/y/lib/inner" tests="3" failures="3">
		<testcase name="TestInner" classname="github.com/x/y/lib/inner" time="0.010">
			<failure message="Failed"><![CDATA[    lib_test.go:7: inner is wrong]]></failure>
		</testcase>
		<testcase name="TestAbsolute" classname="github.com/x/y/lib/inner" file="{ws}/third/lib/inner/lib_test.go" line="9" time="0.010">
			<failure message="absolute inside"></failure>
		</testcase>
		<testcase name="TestOutside" classname="github.com/x/y/lib/inner" file="/usr/lib/go/src/testing/testing.go" line="1934" time="0.010">
			<failure message="absolute outside"></failure>
		</testcase>
	</testsuite>
	<testsuite name="github.com/x/y/a" tests="2" failures="2">
		<testcase name="TestDup" classname="github.com/x/y/a" time="0.010">
			<failure message="Failed"><![CDATA[    dup_test.go:3: a is wrong]]></failure>
		</testcase>
		<testcase name="TestNowhere" classname="github.com/x/y/a" time="0.010">
			<failure message="Failed"><![CDATA[    gone_test.go:5: not in the checkout]]></failure>
		</testcase>
	</testsuite>
</testsuites>
`

func TestReportAnnotationPaths(t *testing.T) {
	ws := workspace(t)
	res, err := report.Parse(strings.NewReader(strings.ReplaceAll(goJUnitReport, "{ws}", ws)), filepath.Join(t.TempDir(), "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	cfg := config()
	cfg.SourceDir, cfg.LogDir, cfg.Workspace = "", "", ws
	if _, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cr := range e.srv.CheckRuns() {
		for _, a := range cr.Annotations {
			got[a.Title] = a.Path + ":" + strconv.Itoa(a.StartLine)
		}
	}
	want := map[string]string{
		"TestSub":      "pkg/sub/x_test.go:42",
		"TestInner":    "third/lib/inner/lib_test.go:7",
		"TestAbsolute": "third/lib/inner/lib_test.go:9",
		"TestDup":      "a/dup_test.go:3",
		"TestNowhere":  "gone_test.go:5", // not in the checkout: as written
	}
	if len(got) != len(want) {
		t.Errorf("annotations = %v, want %v (TestOutside has no repository path)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("annotation %s at %q, want %q", k, got[k], v)
		}
	}
	// The failures without a path are in the check run's summary.
	for _, cr := range e.srv.CheckRuns() {
		if cr.Name == "leviathan / github.com/x/y/lib/inner / raspberrypi4-64" {
			if !strings.Contains(cr.Summary, "TestOutside | 0.01s | testing.go:1934 |") {
				t.Errorf("summary lacks TestOutside's row:\n%s", cr.Summary)
			}
			if strings.Contains(cr.Summary, "/usr/lib/go") {
				t.Errorf("summary carries the absolute path:\n%s", cr.Summary)
			}
		}
	}

	// Without check runs, the workflow commands name the same files, and
	// none for the failure not placed.
	e2 := newEnv(t, githubtest.WithReadOnlyToken("ghs_fork"))
	if _, err := report.New(e2.client(t, "ghs_fork"), e2.action, cfg).Report(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	log := e2.stdout.String()
	for _, want := range []string{
		"::error file=pkg/sub/x_test.go,line=42,title=github.com/x/y/pkg/sub%3A TestSub::sub is wrong",
		"::error title=github.com/x/y/lib/inner%3A TestOutside::absolute outside",
		"::error file=gone_test.go,line=5,title=github.com/x/y/a%3A TestNowhere::not in the checkout",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in:\n%s", want, log)
		}
	}
	if strings.Contains(log, ws) || strings.Contains(log, "file=/") {
		t.Errorf("an absolute path in the workflow commands:\n%s", log)
	}
}

// The JUnit file names a failure without a location by line 1 of itself,
// only when it is in the repository.
func TestReportUnlocatedFailure(t *testing.T) {
	ws := workspace(t)
	x := `<testsuite name="hup"><testcase name="TestRollback"><error message="No test result found">panic</error></testcase></testsuite>`
	for _, tc := range []struct{ source, want string }{
		{filepath.Join(ws, "results", "junit.xml"), "results/junit.xml"},
		{filepath.Join(t.TempDir(), "junit.xml"), ""},
	} {
		res, err := report.Parse(strings.NewReader(x), tc.source)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t)
		cfg := config()
		cfg.Workspace = ws
		out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(context.Background(), res)
		if err != nil {
			t.Fatal(err)
		}
		anns := e.srv.CheckRuns()[0].Annotations
		switch {
		case tc.want == "" && (len(anns) != 0 || out.CheckRuns[0].Annotations != 0):
			t.Errorf("%s: annotations %+v", tc.source, anns)
		case tc.want != "" && (len(anns) != 1 || anns[0].Path != tc.want || anns[0].StartLine != 1):
			t.Errorf("%s: annotations %+v, want one at %s:1", tc.source, anns, tc.want)
		}
		if e.srv.CheckRuns()[0].Conclusion != "failure" {
			t.Errorf("%s: conclusion %q", tc.source, e.srv.CheckRuns()[0].Conclusion)
		}
	}
}

func TestCheckRunNames(t *testing.T) {
	x := `<testsuite name="pkg0"><testcase name="TestA"/></testsuite>`
	for _, tc := range []struct{ format, device, want string }{
		{"", "", "leviathan / pkg0"},
		{"", "qemux86-64", "leviathan / pkg0 / qemux86-64"},
		{"leviathan / {suite} / {device}", "", "leviathan / pkg0"},
		{"{device} / {suite}", "", "pkg0"},
		{"leviathan ({device}) {suite}", "", "leviathan pkg0"},
		{"leviathan - {suite} - {device} - nightly", "", "leviathan - pkg0 - nightly"},
		{"leviathan / {suite} / {device}", "qemux86-64", "leviathan / pkg0 / qemux86-64"},
	} {
		res, err := report.Parse(strings.NewReader(x), "x.xml")
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t)
		cfg := config()
		cfg.NameFormat, cfg.DeviceType = tc.format, tc.device
		out, err := report.New(e.client(t, githubtest.DefaultToken), e.action, cfg).Report(context.Background(), res)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.srv.CheckRuns()[0].Name; got != tc.want || out.CheckRuns[0].Name != tc.want {
			t.Errorf("format %q, device %q: name %q, want %q", tc.format, tc.device, got, tc.want)
		}
	}
}
