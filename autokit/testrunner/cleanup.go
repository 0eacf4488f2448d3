package testrunner

import (
	"context"
	"errors"
	"fmt"

	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

// Cleanup removes every container (forced, with its anonymous volumes),
// network and volume carrying all of labels, such as JobLabels(runID, "",
// "") or {LabelLease: id}. It refuses an empty label set, which would match
// everything.
func Cleanup(ctx context.Context, cli Engine, labels map[string]string) error {
	if len(labels) == 0 {
		return errors.New("testrunner: cleanup needs at least one label")
	}
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	host := cli.DaemonHost()
	var errs []error
	cs, err := cli.ContainerList(ctx, containertypes.ListOptions{All: true, Filters: f})
	if err != nil {
		return engineErr(host, "listing containers", err)
	}
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, containertypes.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, engineErr(host, "removing container "+c.ID, err))
		}
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, engineErr(host, "listing networks", err))...)
	}
	for _, n := range ns {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil {
			errs = append(errs, engineErr(host, "removing network "+n.Name, err))
		}
		if err := removeBridgeRules(ctx, n.Options[bridgeOption]); err != nil {
			errs = append(errs, err)
		}
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, engineErr(host, "listing volumes", err))...)
	}
	for _, v := range vs.Volumes {
		if err := cli.VolumeRemove(ctx, v.Name, true); err != nil {
			errs = append(errs, engineErr(host, "removing volume "+v.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("testrunner: cleanup: %w", errors.Join(errs...))
	}
	return nil
}
