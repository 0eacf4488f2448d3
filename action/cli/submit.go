package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/balena/leviathan-action/action/submit"
)

// submit uploads the image and, when asked, dispatches the test workflow.
func (r *run) submit(ctx context.Context) error {
	cfg := r.cfg
	path := cfg.Source.Path
	if _, err := submit.Check(path); err != nil {
		return usage(fmt.Errorf("input \"image\": %w", err))
	}
	res, err := submit.FromEnv(ctx, path, submit.Options{ArtifactName: cfg.Artifact, Logger: r.log})
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
