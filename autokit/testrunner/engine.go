package testrunner

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types"
	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageEngine is the part of the Docker Engine API Pull uses.
type ImageEngine interface {
	DaemonHost() string
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
}

// Engine is the part of the Docker Engine API Run and Cleanup use.
type Engine interface {
	DaemonHost() string
	ContainerCreate(ctx context.Context, config *containertypes.Config, hostConfig *containertypes.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (containertypes.CreateResponse, error)
	ContainerAttach(ctx context.Context, container string, options containertypes.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, container string, options containertypes.StartOptions) error
	ContainerWait(ctx context.Context, container string, condition containertypes.WaitCondition) (<-chan containertypes.WaitResponse, <-chan error)
	ContainerInspect(ctx context.Context, container string) (containertypes.InspectResponse, error)
	ContainerStop(ctx context.Context, container string, options containertypes.StopOptions) error
	ContainerRemove(ctx context.Context, container string, options containertypes.RemoveOptions) error
	ContainerList(ctx context.Context, options containertypes.ListOptions) ([]containertypes.Summary, error)
	CopyFromContainer(ctx context.Context, container, srcPath string) (io.ReadCloser, containertypes.PathStat, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, network string, options network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, network string) error
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
}

var (
	_ ImageEngine = (*client.Client)(nil)
	_ Engine      = (*client.Client)(nil)
)

// engineErr wraps an Engine API error from op, naming the engine's address
// when it could not be reached at all.
func engineErr(host, op string, err error) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("testrunner: %s: docker engine unreachable at %s (start it, or point DOCKER_HOST at its socket, by default unix:///var/run/docker.sock): %w", op, host, err)
	}
	return fmt.Errorf("testrunner: %s: %w", op, err)
}
