package actioncmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/balena/leviathan-action/action/config"
	"github.com/balena/leviathan-action/action/submit"
)

// submit uploads the image and, when asked, dispatches the test workflow.
func (r *run) submit(ctx context.Context) error {
	cfg := r.cfg
	path := cfg.Source.Path
	if _, err := submit.Check(path); err != nil {
		return usage(fmt.Errorf("input \"image\": %w", err))
	}
	up, err := r.artifacts()
	if err != nil {
		return fmt.Errorf("cli: %w", err)
	}
	var suites []string // the workspace's; built-in ones are in the testrunner image
	for _, s := range cfg.Suites {
		if !config.BuiltinSuite(s) {
			suites = append(suites, s)
		}
	}
	if len(suites) > 0 {
		fmt.Fprintf(r.Stdout, "compiling %s for %s\n", strings.Join(suites, ", "), strings.Join(cfg.SuiteArch, ", "))
	}
	res, err := submit.Submit(ctx, up, path, submit.Options{ArtifactName: cfg.Artifact, Logger: r.log,
		Suites: suites, Workspace: cfg.GitHub.Workspace, Arches: cfg.SuiteArch, Commit: cfg.SuiteCommit, WorkDir: cfg.GitHub.RunnerTemp})
	var se *submit.SuitesError
	if errors.As(err, &se) {
		return usage(fmt.Errorf("input \"suites\": %w", err))
	}
	if err != nil {
		return err
	}
	if cfg.ImageSHA256 != "" && cfg.ImageSHA256 != res.ImageSHA256 {
		return usage(fmt.Errorf("input \"image-sha256\": the image's SHA-256 is %s, not %s (it was uploaded as artifact %s all the same)",
			res.ImageSHA256, cfg.ImageSHA256, res.ArtifactName))
	}
	for _, k := range []string{"artifact-name", "artifact-id", "image-sha256"} {
		r.output(k, res.Outputs()[k])
	}
	r.summary(submitSummary(res))
	fmt.Fprintf(r.Stdout, "uploaded %s as artifact %s (id %d): %s, %.2fx smaller, sha256 %s\n",
		path, res.ArtifactName, res.ArtifactID, size(res.ImageSize), res.Ratio(), res.ImageSHA256)
	for _, e := range res.Suites {
		fmt.Fprintf(r.Stdout, "  suite %s (linux/%s, %s): %s, sha256 %s\n", e.Path, e.GOARCH, e.GoVersion, size(e.Size), e.SHA256)
	}

	d := cfg.Dispatch
	if d.Workflow == "" {
		return nil
	}
	gh, err := r.github(ctx, false)
	if err != nil {
		return err
	}
	g := cfg.GitHub
	err = submit.DispatchTests(ctx, gh, submit.Dispatch{
		Owner: g.Owner, Repo: g.Repo, Workflow: d.Workflow, Ref: g.Ref,
		DeviceTypes: d.DeviceTypes, Suites: d.Suites,
	}, res, g.RunID)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.Stdout, "dispatched %s on %s for %s\n", d.Workflow, g.Ref, strings.Join(d.DeviceTypes, ", "))
	r.summary(fmt.Sprintf("Dispatched `%s` on `%s` for %s.\n", d.Workflow, g.Ref, "`"+strings.Join(d.DeviceTypes, "`, `")+"`"))
	return nil
}

func submitSummary(res submit.Result) string {
	var b strings.Builder
	b.WriteString("### Leviathan: image submitted\n\n| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| Artifact | `%s` (id %d) |\n", res.ArtifactName, res.ArtifactID)
	fmt.Fprintf(&b, "| File | `%s` (%s) |\n", res.Member, res.Format)
	fmt.Fprintf(&b, "| Image size | %s |\n", size(res.ImageSize))
	fmt.Fprintf(&b, "| Uploaded | %s (ratio %.2f) |\n", size(res.UploadedSize), res.Ratio())
	fmt.Fprintf(&b, "| SHA-256 (uncompressed) | `%s` |\n", res.ImageSHA256)
	fmt.Fprintf(&b, "| Upload time | %s |\n\n", res.Duration.Round(1e7))
	if len(res.Suites) > 0 {
		b.WriteString("Compiled suites, shipped in the artifact for the testbots:\n\n| Suite | GOARCH | Size | SHA-256 |\n| --- | --- | --- | --- |\n")
		for _, e := range res.Suites {
			fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` |\n", e.Path, e.GOARCH, size(e.Size), e.SHA256)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// size formats a byte count in binary units.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	d, e := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		d *= unit
		e++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(d), "KMGTPE"[e], n)
}
