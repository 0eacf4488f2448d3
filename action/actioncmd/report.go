package actioncmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/balena/leviathan-action/action/report"
)

// report publishes the junit input's files.
func (r *run) report(ctx context.Context) error {
	res, err := parseJUnit(r.cfg.JUnit)
	if err != nil {
		return usage(fmt.Errorf("input \"junit\": %w", err))
	}
	return r.publish(ctx, res, "", r.cfg.DeviceType)
}

// parseJUnit reads JUnit files and merges suites of the same name, so
// that each name gets one check run.
func parseJUnit(files []string) (*report.Results, error) {
	all := &report.Results{Source: strings.Join(files, ", ")}
	index := map[string]int{}
	for _, f := range files {
		res, err := report.ParseFile(f)
		if err != nil {
			return nil, err
		}
		for _, s := range res.Suites {
			i, ok := index[s.Name]
			if !ok {
				index[s.Name] = len(all.Suites)
				all.Suites = append(all.Suites, s)
				continue
			}
			all.Suites[i].Cases = append(all.Suites[i].Cases, s.Cases...)
			all.Suites[i].Duration += s.Duration
		}
	}
	return all, nil
}

// publish reports res as check runs, annotations, job summary and
// outputs. logDir is a Leviathan report directory, for serial-log
// excerpts. It returns errTestsFailed when a test failed.
func (r *run) publish(ctx context.Context, res *report.Results, logDir, deviceType string) error {
	cfg := r.cfg
	g := cfg.GitHub
	gh, err := r.github(ctx, true)
	if err != nil {
		return err
	}
	rc := report.Config{
		Owner: g.Owner, Repo: g.Repo, HeadSHA: g.HeadSHA,
		DeviceType: deviceType, NameFormat: cfg.NameFormat(),
		Workspace: g.Workspace, LogDir: logDir, DetailsURL: g.RunURL(),
		Secrets: cfg.Secrets(),
	}
	// One suite named: every case goes to its check run, and a failure's
	// bare file name is found in the suite's directory.
	if len(cfg.Suites) == 1 {
		s := cfg.Suites[0]
		rc.Suite = filepath.Base(s)
		if strings.Contains(s, "/") {
			rc.SourceDir = s
		}
	}
	out, err := report.New(gh, r.action, rc, report.WithLogger(r.log)).Report(ctx, res)
	if err != nil {
		return fmt.Errorf("cli: reporting %s: %w", res.Source, err)
	}
	fmt.Fprintf(r.Stdout, "%s: %d passed, %d failed, %d skipped in %d check run(s)\n",
		out.Conclusion, out.Passed, out.Failed, out.Skipped, len(out.CheckRuns))
	for _, c := range out.CheckRuns {
		fmt.Fprintf(r.Stdout, "  %s: %s %s\n", c.Name, c.Conclusion, c.URL)
	}
	if out.Failed > 0 {
		return errTestsFailed
	}
	return nil
}
