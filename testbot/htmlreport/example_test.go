package htmlreport_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/balena/leviathan-action/testbot/htmlreport"
)

// A run's report: the testbot writes it as reports/index.html.
func ExampleWrite() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &htmlreport.Data{
		Title:   "leviathan run — qemu-x86_64",
		Started: start,
		OK:      true,
		Facts:   []htmlreport.Fact{{Name: "reproduce", Value: "leviathan run --suite os", Mono: true}},
		Stages:  []htmlreport.Span{{Name: "boot", Start: start, End: start.Add(20 * time.Second)}},
		Console: []htmlreport.Line{{T: start.Add(3 * time.Second), Text: "Linux version 6.6"}},
		Tests: []htmlreport.Test{{
			Suite: "os", Name: "TestBoot", Result: "pass",
			Start: start.Add(20 * time.Second), End: start.Add(21 * time.Second),
			ConsoleFrom: 0, ConsoleTo: 1, Screen: -1,
		}},
	}
	var b bytes.Buffer
	if err := htmlreport.Write(&b, d); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Contains(b.String(), `<div id="verdict" class="verdict ok">PASSED</div>`))
	// Output: true
}
