package hookcmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docker/docker/client"

	"github.com/balena/leviathan-action/runner-hook/container"
)

// dockerEngine is hook.Docker over the Docker Engine API.
type dockerEngine struct {
	cli *client.Client
	log *slog.Logger
}

// newDocker connects to the engine named by DOCKER_HOST (the default
// socket when unset) and checks that it answers.
func newDocker(ctx context.Context, log *slog.Logger) (*dockerEngine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w (check DOCKER_HOST)", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker engine unreachable at %s (start it, or point DOCKER_HOST at its socket): %w", cli.DaemonHost(), err)
	}
	return &dockerEngine{cli: cli, log: log}, nil
}

// Pull implements hook.Docker.
func (d *dockerEngine) Pull(ctx context.Context, ref string, w io.Writer) error {
	_, err := container.Pull(ctx, d.cli, ref, w, container.WithLogger(d.log))
	return err
}

// Remove implements hook.Docker.
func (d *dockerEngine) Remove(ctx context.Context, labels map[string]string) error {
	return container.Cleanup(ctx, d.cli, labels)
}

func (d *dockerEngine) Close() error { return d.cli.Close() }
