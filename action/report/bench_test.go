package report_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/balena/leviathan-action/internal/benchrow"

	"github.com/balena/leviathan-action/action/githubtest"
	"github.com/balena/leviathan-action/action/report"
)

// BenchmarkReport10k reports 10 000 cases with 2 000 failures to the fake
// GitHub: parsing, one check run with 2 000 annotations, the summaries and
// outputs. It reports the check-run API calls per report against the
// budget ceil(2000/50)+2 = 42, and the time per report: the report's own
// (the judged figure: the wall time minus the fake GitHub's time, which
// checks every request and answer against GitHub's OpenAPI description
// in this process — GitHub's servers are elsewhere) and the wall time,
// each as min/median/max over the rounds.
func BenchmarkReport10k(b *testing.B) {
	const cases, failures = 10000, 2000
	junit := genJUnit(cases, failures)
	e := newEnv(b)
	gh := e.client(b, githubtest.DefaultToken)
	ctx := context.Background()
	b.SetBytes(int64(len(junit)))
	b.ResetTimer()
	var walls, owns []time.Duration
	for b.Loop() {
		start, busy := time.Now(), e.srv.Busy()
		res, err := report.Parse(bytes.NewReader(junit), "bench.xml")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := report.New(gh, e.action, config()).Report(ctx, res); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		walls = append(walls, wall)
		owns = append(owns, wall-(e.srv.Busy()-busy))
	}
	b.StopTimer()
	runs := e.srv.CheckRuns()
	calls := e.srv.Calls("checks/create") + e.srv.Calls("checks/update")
	perReport := float64(calls) / float64(len(runs))
	budget := (failures+report.MaxAnnotationsPerCall-1)/report.MaxAnnotationsPerCall + 2
	b.ReportMetric(perReport, "api-calls/report")
	b.ReportMetric(float64(budget), "budget-calls")
	if perReport > float64(budget) {
		b.Errorf("%.0f API calls per report, budget %d", perReport, budget)
	}
	own, wall := medianOf(owns), medianOf(walls)
	b.ReportMetric(float64(own.Milliseconds()), "own-ms/report")
	b.Logf("%d cases, %d failures: %.0f check-run API calls per report (budget %d); per report %v of the report's own (min/median/max %s), %v wall with the fake GitHub's checking (%s), %d rounds",
		cases, failures, perReport, budget, own, spreadOf(owns), wall, spreadOf(walls), len(walls))
	benchrow.Record(benchrow.Row{What: fmt.Sprintf("report %d cases, %d failures: local time (the fake GitHub's time taken out)", cases, failures),
		Leviathan: own.String(), Baseline: fmt.Sprintf("wall time with the fake GitHub %v", wall), Result: own.String(), Spread: spreadOf(owns),
		Target: "< 200 ms", Met: benchrow.Judge(own < 200*time.Millisecond)})
	benchrow.Record(benchrow.Row{What: "report: GitHub API calls", Leviathan: fmt.Sprintf("%.0f", perReport),
		Baseline: fmt.Sprintf("budget ⌈failures/50⌉ + 2 = %d", budget), Result: fmt.Sprintf("%.0f calls", perReport),
		Target: fmt.Sprintf("≤ %d", budget), Met: benchrow.Judge(perReport <= float64(budget))})
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

func spreadOf(ds []time.Duration) string {
	return fmt.Sprintf("%v/%v/%v", slices.Min(ds).Round(time.Millisecond), medianOf(ds), slices.Max(ds).Round(time.Millisecond))
}

// BenchmarkParse10k parses the JUnit file of BenchmarkReport10k: the
// report's own work before any request, apart from the fake GitHub.
func BenchmarkParse10k(b *testing.B) {
	junit := genJUnit(10000, 2000)
	b.SetBytes(int64(len(junit)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := report.Parse(bytes.NewReader(junit), "bench.xml"); err != nil {
			b.Fatal(err)
		}
	}
}
