package htmlreporttest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/balena/leviathan-action/testbot/htmlreport/htmlreporttest"
)

// A test opens a report in Chromium and demands what it shows; it skips
// where no Chromium is installed.
func ExampleCheck() {
	found, err := htmlreporttest.Check(context.Background(), "reports/index.html", htmlreporttest.Want{
		Verdict:  "FAILED",
		Timeline: true,
		Tests:    12,
		Anchors:  12,
		Absent:   []string{"#pwned"},
		Probes: []htmlreporttest.Probe{
			{Name: "failures come first", JS: `document.querySelector('#tests tr[data-test]').classList.contains('fail')`},
		},
	})
	if errors.Is(err, htmlreporttest.ErrNoBrowser) {
		fmt.Println("skip:", err) // t.Skip(err) in a test
		return
	}
	if err != nil {
		fmt.Println(err) // t.Fatal(err)
		return
	}
	found.SavePNG("index.png")
}
