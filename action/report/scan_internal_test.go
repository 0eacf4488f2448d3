package report

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// typical are JUnit files as test tools write them: the fast path must
// take every one, and decode it as encoding/xml does.
var typical = map[string]string{
	"go-junit-report": `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1">
	<testsuite name="github.com/x/y/os" tests="3" failures="1" errors="0" id="0" hostname="runner" time="1.234" timestamp="2026-01-10T10:00:00Z">
		<properties>
			<property name="go.version" value="go1.26.0 linux/amd64"></property>
		</properties>
		<testcase name="TestA" classname="github.com/x/y/os" time="0.010"></testcase>
		<testcase name="TestB/sub_test" classname="github.com/x/y/os" time="0.020">
			<failure message="Failed" type=""><![CDATA[=== RUN   TestB/sub_test
    b_test.go:12: got 1, want 2
--- FAIL: TestB/sub_test (0.02s)]]></failure>
		</testcase>
		<testcase name="TestC" classname="github.com/x/y/os" time="0.000">
			<skipped message="Skipped"><![CDATA[    c_test.go:9: needs a DUT]]></skipped>
		</testcase>
		<system-out><![CDATA[PASS]]></system-out>
	</testsuite>
</testsuites>
`,
	"pytest": `<?xml version='1.0' encoding='utf-8'?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.05" timestamp="2026-01-10T10:00:00.000000" hostname="h"><testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="3" time="0.001" /><testcase classname="tests.test_a" name="test_bad[1-&lt;2&gt;]" file="tests/test_a.py" line="7" time="0.002"><failure message="assert 1 == 2&#10; +  where 1 = f()">def test_bad():
&gt;       assert f() == 2
E       assert 1 == 2</failure></testcase></testsuite></testsuites>`,
	"surefire": `<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0" name="com.example.AppTest" time="0.02" tests="2" errors="1" skipped="0" failures="0">
  <properties>
    <property name="java.version" value="21"/>
  </properties>
  <testcase name="works" classname="com.example.AppTest" time="0.001"/>
  <testcase name="breaks" classname="com.example.AppTest" time="0.003">
    <error message="boom" type="java.lang.IllegalStateException">java.lang.IllegalStateException: boom
	at com.example.AppTest.breaks(AppTest.java:14)
</error>
    <system-out><![CDATA[out line]]></system-out>
    <system-err><![CDATA[err line]]></system-err>
  </testcase>
</testsuite>
`,
	"crlf, comments and instructions": "\ufeff<?xml version=\"1.0\"?>\r\n<!-- written by hand -->\r\n<?xml-stylesheet href=\"a.xsl\"?>\r\n" +
		"<testsuites name=\"all\">\r\n<testcase name=\"top\" classname=\"root\"><system-out>a\r\nb\rc<!-- cut -->d</system-out></testcase>\r\n" +
		"<testsuite name=\"outer\"><testsuite name=\"inner\"><testcase name=\"deep\"><failure>x</failure><failure message=\"second\">y</failure></testcase></testsuite></testsuite>\r\n" +
		"</testsuites>\r\ntrailing text the decoder never reads",
	"interleaved and prefixed": `<testsuites name="r"><testcase name="a"/><x:testcase name="p"/><testsuite name="n" time="2"><testcase name="b"/>` +
		`<testsuite name="m"/></testsuite><testcase name="c" time="1.5"><failure>    f_test.go:3: bad</failure></testcase><testsuite/></testsuites>`,
	"references": `<testsuite name="&#x1F600; &#233; &quot;q&quot; &apos;a&apos;"><testcase name='single "quoted" &amp; &lt;x&gt;' line="12" file="a_test.go"><skipped/><system-out>]] ]&gt; &#9;tab</system-out></testcase></testsuite>`,
}

func TestScanTakesTheFastPath(t *testing.T) {
	sample, err := os.ReadFile("testdata/sample.xml")
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{"testdata/sample.xml": string(sample)}
	for name, s := range typical {
		inputs[name] = s
	}
	for name, s := range inputs {
		got, ok := scanJUnit(s, name)
		if !ok {
			t.Errorf("%s: the fast path refused it", name)
			continue
		}
		want, err := decodeJUnit(strings.NewReader(s), name)
		if err != nil {
			t.Fatalf("%s: encoding/xml: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%+v\nencoding/xml decodes\n%+v", name, got, want)
		}
	}
}

// What the fast path leaves to encoding/xml: errors, and XML it does not
// handle. Parse's answer is then encoding/xml's.
func TestScanLeavesTheRestToEncodingXML(t *testing.T) {
	for _, s := range []string{
		``,
		`just text`,
		`<html></html>`,
		`</testsuites>`,
		`<testsuites><testsuite name="x"><testcase name="a">`,
		`<testsuites><testsuite></testsuites></testsuite>`,
		`<testsuites><a:b></c:b></testsuites>`,
		`<testsuites><testcase name="a"b></testcase></testsuites>`,
		`<testsuites><testcase name=a></testcase></testsuites>`,
		`<testsuites><testcase name="<"></testcase></testsuites>`,
		`<testsuites><testcase name="a"/ ></testsuites>`,
		`<testsuites>&nbsp;</testsuites>`,
		`<testsuites>&amp</testsuites>`,
		`<testsuites>&#0;</testsuites>`,
		`<testsuites>&#xD800;</testsuites>`,
		`<testsuites>&#00000065;</testsuites>`,
		`<testsuites>]]></testsuites>`,
		"<testsuites>\x01</testsuites>",
		"<testsuites>\xff</testsuites>",
		"<testsuites>\uFFFE</testsuites>",
		`<testsuites><!-- a -- b --></testsuites>`,
		`<testsuites><![CDATA[never closed</testsuites>`,
		`<!DOCTYPE testsuites><testsuites/>`,
		`<?xml version="1.1"?><testsuites/>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><testsuites/>`,
		`<testsuites><a:b:c/></testsuites>`,
		`<testsuites><tëst/></testsuites>`,
		`<testsuites><1a/></testsuites>`,
	} {
		if _, ok := scanJUnit(s, "x.xml"); ok {
			t.Errorf("the fast path took %q", s)
		}
	}
}

// FuzzScanJUnit checks the fast path against encoding/xml: whatever it
// takes, encoding/xml must take and decode the same way.
func FuzzScanJUnit(f *testing.F) {
	if b, err := os.ReadFile("testdata/sample.xml"); err == nil {
		f.Add(string(b))
	}
	for _, s := range typical {
		f.Add(s)
	}
	f.Add(`<testsuite><testcase name="a" name="b" xmlns:name="c" x:classname="d"/></testsuite>`)
	f.Add(`<testsuites><testcase><failure message="m"/><failure>t<x>skipped</x>u</failure><system-out>o</system-out><system-out/></testcase></testsuites>`)
	f.Add(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><testsuites a = 'b' c="&#x41;&#65;"><?pi x?></testsuites>`)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := scanJUnit(s, "fuzz.xml")
		if !ok {
			return
		}
		want, err := decodeJUnit(strings.NewReader(s), "fuzz.xml")
		if err != nil {
			t.Fatalf("the fast path took %q, encoding/xml refuses it: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded\n%+v\nencoding/xml decodes\n%+v", s, got, want)
		}
	})
}

// goLineRE is the expression goLine implements.
var goLineRE = regexp.MustCompile(`^\s+([^\s:]+\.go):(\d+): ?(.*)$`)

func TestGoLine(t *testing.T) {
	for _, tc := range []struct {
		line, file, n, msg string
	}{
		{"    os_test.go:42: hostname = x", "os_test.go", "42", "hostname = x"},
		{"\tpkg/a_test.go:7:  two spaces", "pkg/a_test.go", "7", " two spaces"},
		{" x.go:1:", "x.go", "1", ""},
		{"no_indent_test.go:1: x", "", "", ""},
		{"    .go:1: x", "", "", ""},
		{"    a.go:x: y", "", "", ""},
		{"    a.go:12", "", "", ""},
		{"    a b.go:1: x", "", "", ""},
		{"    C:a.go:1: x", "", "", ""},
		{"    a.gox:1: x", "", "", ""},
	} {
		file, n, msg, ok := goLine(tc.line)
		if ok != (tc.file != "") || file != tc.file || n != tc.n || msg != tc.msg {
			t.Errorf("goLine(%q) = %q, %q, %q, %v; want %q, %q, %q", tc.line, file, n, msg, ok, tc.file, tc.n, tc.msg)
		}
	}
}

// FuzzGoLine checks goLine against the regular expression it replaces.
func FuzzGoLine(f *testing.F) {
	for _, s := range []string{"    os_test.go:42: msg", "\t\fa.go:1:x", " b.go:99999999999999999999: big", "  é.go:3: ü\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, l string) {
		if strings.Contains(l, "\n") {
			return // goLine gets one line
		}
		file, n, msg, ok := goLine(l)
		m := goLineRE.FindStringSubmatch(l)
		if ok != (m != nil) || (ok && (file != m[1] || n != m[2] || msg != m[3])) {
			t.Fatalf("goLine(%q) = %q, %q, %q, %v; the expression finds %q", l, file, n, msg, ok, m)
		}
	})
}
