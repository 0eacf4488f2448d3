package leviathancmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/testbot/htmlreport/htmlreporttest"
)

// TestRunVisualReport runs a real QEMU DUT with a suite that fails once,
// and checks the visual report in headless Chromium: the verdict, the
// timeline with a bar per test, a row per test, console anchors, the
// failure's screenshot, and no JavaScript error. The page's PNG is kept in
// build/visual-report.png.
func TestRunVisualReport(t *testing.T) {
	needQEMU(t)
	if _, err := htmlreporttest.Browser(); errors.Is(err, htmlreporttest.ErrNoBrowser) {
		t.Skipf("%v", err)
	}
	testImage(t, false)
	reports := t.TempDir()
	code, _, _ := runCLI(t, t.Context(), "run", "--build-dir", filepath.Join(repoRoot(t), "build"), "--reports", reports,
		"--suite", filepath.Join("testdata", "visualsuite"))
	if code != 1 {
		t.Fatalf("leviathan run exited %d, want 1 (one test fails on purpose)", code)
	}
	for _, f := range []string{"index.html", session.FileName, "screens/screens.json"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("reports: %v", err)
		}
	}
	page := filepath.Join(reports, "index.html")
	if b, _ := os.ReadFile(page); !bytes.Contains(b, []byte("leviathan-visual-failure-marker")) {
		t.Error("index.html lacks the console line the failing test printed")
	}
	// Rows: TestVisualPasses with its 2 subtests, TestVisualSuiteScreenshot,
	// TestVisualFails. The timeline draws the 3 top-level tests, merging
	// bars narrower than 3 pixels: at least one bar.
	found, err := htmlreporttest.Check(t.Context(), page, htmlreporttest.Want{
		Timeline: true, Tests: 5, TimelineBars: 1, FailureScreens: 1, Verdict: "FAILED",
	})
	if err != nil {
		t.Fatal(err)
	}
	if found.Anchors < 3 || found.FailedRows != 1 || found.Screens < 2 || found.PowerMarks < 1 {
		t.Errorf("the page shows %d console anchors, %d failed rows, %d screenshots, %d power marks; want ≥3, 1, ≥2 (the suites' and the failure's), ≥1",
			found.Anchors, found.FailedRows, found.Screens, found.PowerMarks)
	}
	png := filepath.Join(repoRoot(t), "build", "visual-report.png")
	if err := found.SavePNG(png); err != nil {
		t.Fatal(err)
	}
	t.Logf("the report opened in %v; its picture: %s", found.Ready, png)
}
