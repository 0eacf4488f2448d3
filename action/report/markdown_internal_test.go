package report

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// cellByFields is what cell does, written the obvious way: the reference
// the fuzz test holds cell to.
func cellByFields(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `\`, `\\`, "|", `\|`, "`", "\\`",
		"*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`).Replace(s)
}

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"TestPlain":                 "TestPlain",
		"a b":                       "a b",
		"  a \t\n b  ":              "a b",
		"TestX/ü<1> & | `c` *_[]\\": `TestX/ü&lt;1&gt; &amp; \| \` + "`c\\`" + ` \*\_\[\]\\`,
		"a\u00a0\u2003b\u0085":      "a b",
		"bad \xff utf-8":            "bad \xff utf-8",
	} {
		if got := cell(in); got != want || got != cellByFields(in) {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCell(f *testing.F) {
	for _, s := range []string{"a  b", " x ", "ü<&>|", "\u3000a\u2028", "\xc2\xa0x\xc2", "a\x00\vb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := cell(s), cellByFields(s); got != want {
			t.Fatalf("cell(%q) = %q, want %q", s, got, want)
		}
	})
}

// A document whose blocks stop once it is full renders as it would with
// every block: the cut falls before the blocks left out.
func TestDocStopsWhereTheCutFalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 500 {
		limit := 50 + rng.IntN(500)
		var all []block
		total := 0
		for range rng.IntN(60) {
			b := block{text: strings.Repeat("x", rng.IntN(40)) + "\n", cases: rng.IntN(2)}
			all = append(all, b)
			total += b.cases
		}
		pointer := ""
		if run%2 == 0 {
			pointer = "https://example.test/report"
		}
		d := &doc{limit: limit}
		for _, b := range all {
			if d.full() {
				break
			}
			d.add(b.text, b.cases)
		}
		if got, want := d.render(total, pointer), render(all, limit, total, pointer); got != want {
			t.Fatalf("run %d (limit %d, %d blocks): the document renders\n%s\nwith every block\n%s", run, limit, len(all), got, want)
		}
	}
	if (&doc{limit: 10}).full() {
		t.Error("an empty document is full")
	}
}
