package hookcmd

import (
	"context"
	"fmt"
	"io"

	"github.com/balena/leviathan-action/autokit/client"
)

// workerEngine is hook.Docker through the worker: the worker pulls the
// testrunner image (POST /v1/testrunner/pull, with the worker's token) and
// runs and removes the containers itself, so neither the hook nor the
// job needs the Docker Engine, which is root on the testbot.
type workerEngine struct {
	c *client.Client
}

// newWorkerEngine reaches the worker at url with the admin token.
func newWorkerEngine(url, token string) (*workerEngine, error) {
	c, err := client.New(url, client.WithToken(token))
	if err != nil {
		return nil, err
	}
	return &workerEngine{c: c}, nil
}

// Pull implements hook.Docker.
func (d *workerEngine) Pull(ctx context.Context, ref string, w io.Writer) error {
	fmt.Fprintf(w, "the worker pulls %s\n", ref)
	if err := d.c.PullTestrunner(ctx, ref); err != nil {
		return fmt.Errorf("pulling the testrunner image through the worker (start it with --testrunner-image and a Docker Engine): %w", err)
	}
	return nil
}

// Remove implements hook.Docker. The worker removes the containers of a
// lease when the lease ends (released at job-completed, or expired when
// the job died), so there is nothing left for the hook to do.
func (d *workerEngine) Remove(ctx context.Context, labels map[string]string) error { return nil }
