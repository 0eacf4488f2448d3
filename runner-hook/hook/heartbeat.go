package hook

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
)

// Heartbeat keeps the job's lease alive while the runner's job process
// lives. It returns when that process is gone (the dead-man's switch: the
// lease then expires and the worker powers the DUT off), when the lease is
// gone (released or expired), or when ctx ends (job-completed sends
// SIGTERM). Workers that do not answer are retried at the next beat. It
// authenticates with the lease's own id, so it holds no credential beyond
// the job's lease.
func Heartbeat(ctx context.Context, stateDir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := state{stateDir}
	js, err := st.readJob()
	if err != nil {
		return err
	}
	if js == nil {
		return fmt.Errorf("hook: no job in %s: the heartbeat is started by job-started", stateDir)
	}
	c, err := client.New(js.WorkerURL, client.WithLease(js.LeaseID))
	if err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	every := time.Duration(js.LeaseTTL) / 3
	watchEvery := min(time.Second, every)
	log.Info("heartbeat started", "owner", js.Owner, "watch", js.Watch.PID, "every", every)
	beat := time.NewTicker(every)
	defer beat.Stop()
	watch := time.NewTicker(watchEvery)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("heartbeat stopped", "why", context.Cause(ctx))
			return nil
		case <-watch.C:
			if !js.Watch.alive() {
				log.Warn("the job's process is gone; no more heartbeats: the lease will expire and the worker power the DUT off", "pid", js.Watch.PID)
				return nil
			}
		case <-beat.C:
			bctx, cancel := context.WithTimeout(ctx, every)
			_, err := c.Heartbeat(bctx, js.LeaseID)
			cancel()
			switch {
			case err == nil:
			case client.IsCode(err, api.CodeLeaseUnknown, api.CodeUnauthorized):
				log.Warn("the lease is gone; heartbeat stopped", "err", err)
				return nil
			default:
				log.Warn("heartbeat failed; retrying at the next beat", "err", err)
			}
		}
	}
}

// StartHeartbeatCommand returns a Hook.StartHeartbeat that runs
// "exe args… " detached (its own session, so the runner's hook ending does
// not take it down) with its output in StateDir/heartbeat.log. The
// command must end up calling Heartbeat for the state directory it is
// given as its last argument.
func StartHeartbeatCommand(exe string, args ...string) func(stateDir string) (int, error) {
	return func(stateDir string) (int, error) {
		logf, err := os.OpenFile(filepath.Join(stateDir, "heartbeat.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return 0, err
		}
		defer logf.Close()
		cmd := exec.Command(exe, append(args, stateDir)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		pid := cmd.Process.Pid
		// Reap it when it ends, while this process lives.
		go cmd.Wait()
		return pid, nil
	}
}
