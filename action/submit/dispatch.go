package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/go-github/v60/github"
)

// Dispatch names the test workflow to start after a submit.
type Dispatch struct {
	Owner, Repo string
	// Workflow is the workflow's file name, e.g. "leviathan-test.yml".
	Workflow string
	// Ref is the branch or tag whose workflow file runs.
	Ref string
	// DeviceTypes and Suites are passed as JSON arrays, for fromJSON in a
	// matrix.
	DeviceTypes []string
	Suites      []string
}

// Inputs returns the workflow_dispatch inputs for the submitted image of
// workflow run runID: artifact, run_id, device_types, suites, image_sha256.
func (d Dispatch) Inputs(res Result, runID int64) map[string]any {
	list := func(s []string) string {
		if s == nil {
			s = []string{}
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	return map[string]any{
		"artifact":     res.ArtifactName,
		"run_id":       strconv.FormatInt(runID, 10),
		"device_types": list(d.DeviceTypes),
		"suites":       list(d.Suites),
		"image_sha256": res.ImageSHA256,
	}
}

// DispatchTests starts d's workflow (workflow_dispatch) for the image
// submitted by workflow run runID. gh needs actions:write on the repository.
func DispatchTests(ctx context.Context, gh *github.Client, d Dispatch, res Result, runID int64) error {
	if d.Owner == "" || d.Repo == "" || d.Workflow == "" || d.Ref == "" {
		return errors.New("submit: dispatch needs an owner, a repository, a workflow file and a ref")
	}
	_, err := gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, d.Owner, d.Repo, d.Workflow,
		github.CreateWorkflowDispatchEventRequest{Ref: d.Ref, Inputs: d.Inputs(res, runID)})
	if err != nil {
		return fmt.Errorf("submit: dispatching %s on %s/%s@%s: %w", d.Workflow, d.Owner, d.Repo, d.Ref, err)
	}
	return nil
}
