package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/api"
)

// UploadSuite sends a compiled suite binary, named name (NAME.test), for
// the lease's next RunTestrunner (lease needed). size may be -1 when
// unknown.
func (c *Client) UploadSuite(ctx context.Context, name string, r io.Reader, size int64) error {
	return c.call(ctx, request{method: "PUT", path: api.TestrunnerSuitePath(name), body: r, size: size,
		ctype: api.ContentTypeBinary, leased: true}, nil)
}

// RunTestrunner has the worker run the suites in the testrunner container
// (lease needed), streaming its output to stdout and stderr, and returns
// how the container ended. The worker starts the container itself, with
// its fixed spec: the caller needs no Docker Engine.
func (c *Client) RunTestrunner(ctx context.Context, req api.TestrunnerRequest, stdout, stderr io.Writer) (api.TestrunnerResult, error) {
	resp, err := c.do(ctx, request{method: "POST", path: api.PathTestrunner, body: jsonBody(req), leased: true})
	if err != nil {
		return api.TestrunnerResult{}, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var f api.TestrunnerFrame
		if err := dec.Decode(&f); err != nil {
			if ctx.Err() != nil {
				return api.TestrunnerResult{}, fmt.Errorf("client: testrunner: %w", ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the stream ended without a result")
			}
			return api.TestrunnerResult{}, fmt.Errorf("client: testrunner: %w", err)
		}
		switch {
		case f.Error != "":
			return api.TestrunnerResult{}, fmt.Errorf("client: testrunner: %s", f.Error)
		case f.Result != nil:
			return *f.Result, nil
		}
		w := stdout
		if f.Stream == api.StreamStderr {
			w = stderr
		}
		if w != nil {
			if _, err := w.Write(f.Data); err != nil {
				return api.TestrunnerResult{}, fmt.Errorf("client: testrunner: writing %s: %w", f.Stream, err)
			}
		}
	}
}

// TestrunnerReports returns the last run's reports as a tar stream (lease
// needed); the caller closes it.
func (c *Client) TestrunnerReports(ctx context.Context) (io.ReadCloser, error) {
	resp, err := c.do(ctx, request{method: "GET", path: api.PathTestrunnerReports, leased: true})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// PullTestrunner has the worker pull image (by digest) for later runs
// (the worker's token needed: the runner hook does it before the job).
func (c *Client) PullTestrunner(ctx context.Context, image string) error {
	return c.call(ctx, request{method: "POST", path: api.PathTestrunnerPull, body: jsonBody(api.PullRequest{Image: image})}, nil)
}
