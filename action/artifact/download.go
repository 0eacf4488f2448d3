package artifact

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
)

type listArtifactsRequest struct {
	WorkflowRunBackendID    string `json:"workflow_run_backend_id"`
	WorkflowJobRunBackendID string `json:"workflow_job_run_backend_id"`
	NameFilter              string `json:"name_filter,omitempty"`
}

type listArtifactsResponse struct {
	Artifacts []struct {
		DatabaseID int64s `json:"databaseId"`
		Name       string `json:"name"`
		Size       int64s `json:"size"`
		CreatedAt  string `json:"createdAt"`
		Digest     string `json:"digest"`
	} `json:"artifacts"`
}

type signedURLRequest struct {
	WorkflowRunBackendID    string `json:"workflow_run_backend_id"`
	WorkflowJobRunBackendID string `json:"workflow_job_run_backend_id"`
	Name                    string `json:"name"`
}

type signedURLResponse struct {
	SignedURL string `json:"signedUrl"`
}

// Find returns the artifact of this run named name. An artifact that does
// not exist gives an error matching ErrNotFound that names it and the run.
func (c *Client) Find(ctx context.Context, name string) (Artifact, error) {
	if name == "" {
		return Artifact{}, errEmptyName
	}
	var lr listArtifactsResponse
	err := c.call(ctx, "ListArtifacts", listArtifactsRequest{
		WorkflowRunBackendID: c.ids.Run, WorkflowJobRunBackendID: c.ids.Job, NameFilter: name,
	}, &lr)
	if err != nil {
		return Artifact{}, err
	}
	for _, a := range lr.Artifacts {
		if a.Name != name {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, a.CreatedAt)
		return Artifact{ID: int64(a.DatabaseID), Name: a.Name, Size: int64(a.Size), Digest: a.Digest, CreatedAt: t}, nil
	}
	return Artifact{}, fmt.Errorf("%w: no artifact %q in workflow run %s (uploaded by another run? use DownloadByID)", ErrNotFound, name, c.ids.Run)
}

// Open finds the artifact name of this run and opens its zip archive as a
// stream. The caller closes it.
func (c *Client) Open(ctx context.Context, name string) (io.ReadCloser, Artifact, error) {
	a, err := c.Find(ctx, name)
	if err != nil {
		return nil, Artifact{}, err
	}
	var sr signedURLResponse
	err = c.call(ctx, "GetSignedArtifactURL", signedURLRequest{
		WorkflowRunBackendID: c.ids.Run, WorkflowJobRunBackendID: c.ids.Job, Name: name,
	}, &sr)
	if err != nil {
		return nil, a, err
	}
	if sr.SignedURL == "" {
		return nil, a, fmt.Errorf("artifact: GetSignedArtifactURL %q: no URL in the answer", name)
	}
	rc, err := c.get(ctx, sr.SignedURL)
	if err != nil {
		return nil, a, fmt.Errorf("artifact: downloading %q: %w", name, err)
	}
	return rc, a, nil
}

// Download copies the zip archive of the artifact name of this run to w.
func (c *Client) Download(ctx context.Context, name string, w io.Writer) (Artifact, int64, error) {
	rc, a, err := c.Open(ctx, name)
	if err != nil {
		return a, 0, err
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return a, n, fmt.Errorf("artifact: downloading %q: %w", name, err)
	}
	return a, n, nil
}

// Extract streams the member named member (the first file when member is
// "") of the artifact name of this run to w and returns its size. The
// member's CRC-32 is checked.
func (c *Client) Extract(ctx context.Context, name, member string, w io.Writer) (int64, error) {
	rc, _, err := c.Open(ctx, name)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := extractStream(rc, member, w)
	if err != nil {
		return n, fmt.Errorf("artifact %q: %w", name, err)
	}
	return n, nil
}

// Walk streams the zip archive of the artifact name of this run and calls
// fn with each file member in archive order (see WalkFunc). It stops
// downloading where fn stops the walk, so reading the first members of a
// large artifact costs only their bytes.
func (c *Client) Walk(ctx context.Context, name string, fn WalkFunc) error {
	rc, _, err := c.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := walkStream(rc, fn); err != nil {
		return fmt.Errorf("artifact %q: %w", name, err)
	}
	return nil
}

// DownloadByID streams the member named member (the first file when member
// is "") of artifact id of owner/repo, from any workflow run, to w, through
// the REST API's download redirect. gh needs actions:read on the
// repository. A 410 answer (expired artifact) matches ErrExpired.
func (c *Client) DownloadByID(ctx context.Context, gh *github.Client, owner, repo string, id int64, member string, w io.Writer) (int64, error) {
	rc, err := c.openByID(ctx, gh, owner, repo, id)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := extractStream(rc, member, w)
	if err != nil {
		return n, fmt.Errorf("artifact %d: %w", id, err)
	}
	return n, nil
}

// WalkByID is Walk for artifact id of owner/repo, of any workflow run, as
// DownloadByID reaches it.
func (c *Client) WalkByID(ctx context.Context, gh *github.Client, owner, repo string, id int64, fn WalkFunc) error {
	rc, err := c.openByID(ctx, gh, owner, repo, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := walkStream(rc, fn); err != nil {
		return fmt.Errorf("artifact %d: %w", id, err)
	}
	return nil
}

// openByID opens artifact id's zip archive through the REST API's download
// redirect.
func (c *Client) openByID(ctx context.Context, gh *github.Client, owner, repo string, id int64) (io.ReadCloser, error) {
	u, resp, err := gh.Actions.DownloadArtifact(ctx, owner, repo, id, 3)
	if err != nil {
		what := fmt.Sprintf("artifact: artifact %d of %s/%s", id, owner, repo)
		if resp != nil {
			switch resp.StatusCode {
			case http.StatusGone:
				return nil, fmt.Errorf("%s has expired: %w", what, ErrExpired)
			case http.StatusNotFound:
				return nil, fmt.Errorf("%s: %w (or the token may not read the repository's actions)", what, ErrNotFound)
			case http.StatusUnauthorized, http.StatusForbidden:
				return nil, fmt.Errorf("%s: %w: %w", what, ErrUnauthorized, err)
			}
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	rc, err := c.get(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("artifact: downloading artifact %d: %w", id, err)
	}
	return rc, nil
}

// get GETs a signed URL, unauthenticated, retrying until the response
// starts, and reports progress as the body is read.
func (c *Client) get(ctx context.Context, signed string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, "download", func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, signed, nil)
	})
	if err != nil {
		return nil, err
	}
	if c.progress == nil {
		return resp.Body, nil
	}
	return &progressReader{ReadCloser: resp.Body, fn: c.progress}, nil
}

type progressReader struct {
	io.ReadCloser
	fn   func(int64)
	done int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done)
	}
	return n, err
}
