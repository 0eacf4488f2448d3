package testbot

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/suites/gotest"
)

// clearReports removes an earlier run's reports, so that a failed run can
// never be read as the previous run's success.
func clearReports(dir string) error {
	for _, f := range []string{"junit.xml", "summary.json", "events.json", "serial.log", "tests",
		IndexFile, session.FileName, gotest.ScreensDir} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("testbot: clearing old reports: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testbot: report directory: %w", err)
	}
	return nil
}

// writeFailure records a run that did not complete: summary.json says
// which stage failed and why.
func writeFailure(dir, stage string, err error, t Timings) {
	b, _ := json.MarshalIndent(map[string]any{
		"ok":      false,
		"stage":   stage,
		"error":   err.Error(),
		"timings": t,
	}, "", "  ")
	os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644)
}

// printTable prints one row per top-level test and the suites' errors.
func printTable(w io.Writer, s *gotest.Summary) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tTEST\tRESULT\tTIME")
	for _, t := range s.Tests {
		if strings.Contains(t.Name, "/") {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\n", t.Suite, t.Name, strings.ToUpper(t.Result), t.Seconds)
	}
	tw.Flush()
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// printCounts prints the run's outcome in one line.
func printCounts(w io.Writer, r *Result) {
	crashed := ""
	if len(r.Errors) > 0 {
		crashed = fmt.Sprintf(", %d suite(s) crashed", len(r.Errors))
	}
	secs := ""
	if r.Summary != nil && r.Summary.Seconds > 0 {
		secs = fmt.Sprintf(" in %.1fs", r.Summary.Seconds)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped%s%s — reports in %s\n", r.Passed, r.Failed, r.Skipped, crashed, secs, r.ReportDir)
	fmt.Fprintf(w, "time: %s\n", r.Timings)
}
