package hook

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
)

// JobCompleted is the job-completed hook. It always tries every step —
// remove the job's containers, collect its serial log and reports, release
// the lease (powering the DUT off), stop the heartbeat, remove the job's
// scratch directory, record the DUT's health — and returns every failure.
// A job that job-started refused (or never leased) leaves nothing to do.
func (h *Hook) JobCompleted(ctx context.Context) error {
	st := state{h.Config.StateDir}
	unlock, err := st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	js, err := st.readJob()
	if err != nil {
		return err
	}
	if js == nil {
		h.printf("no Leviathan job on this DUT: nothing to clean up")
		return nil
	}
	var errs []error
	fail := func(what string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
		h.command("warning title=Leviathan clean-up", what+": "+err.Error())
	}

	if h.Docker != nil {
		if err := h.Docker.Remove(ctx, js.labels()); err != nil {
			fail("removing the job's containers", err)
		} else {
			h.printf("removed the job's containers")
		}
	}

	jobDir := filepath.Join(st.jobsDir(), js.dirName())
	if err := os.MkdirAll(jobDir, 0o750); err != nil {
		fail("keeping the job's logs", err)
	}
	c, err := h.client(js.LeaseID)
	if err != nil {
		return err
	}
	if log, _, err := c.SerialLog(ctx, js.SerialStart); err != nil {
		fail("collecting the serial log", err)
	} else if err := os.WriteFile(filepath.Join(jobDir, "serial.log"), log, 0o640); err != nil {
		fail("keeping the serial log", err)
	} else {
		h.printf("kept the job's serial log (%d bytes) in %s", len(log), jobDir)
	}
	if js.TempDir != "" {
		reports := filepath.Join(js.TempDir, "reports")
		if _, err := os.Stat(reports); err == nil {
			if err := os.CopyFS(filepath.Join(jobDir, "reports"), os.DirFS(reports)); err != nil {
				fail("keeping the job's reports", err)
			}
		}
	}

	result := "completed"
	switch err := c.Release(ctx, js.LeaseID); {
	case err == nil:
		h.printf("released the DUT (powered off)")
	case client.IsCode(err, api.CodeLeaseUnknown):
		// It expired: the worker powered the DUT off when it did.
		result = "completed after its lease expired"
		h.command("warning title=Leviathan", "the job's lease had already expired (the heartbeat stopped); the worker powered the DUT off then")
	default:
		fail("releasing the lease", err)
	}

	if js.Heartbeat.alive() {
		if err := syscall.Kill(js.Heartbeat.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			fail("stopping the heartbeat", err)
		}
	}
	if js.TempDir != "" {
		if err := os.RemoveAll(js.TempDir); err != nil {
			fail("removing the job's scratch directory", err)
		}
	}

	health, _ := ReadHealth(st.dir)
	health.LastJob, health.LastJobResult = js.Owner, result
	if hc, err := c.Health(ctx); err == nil {
		health.Stats, health.Checked = hc.Stats, time.Now().UTC()
	}
	if len(errs) > 0 {
		health.LastJobResult = "clean-up failed: " + errors.Join(errs...).Error()
	}
	if err := st.writeHealth(health); err != nil {
		fail("recording the DUT's health", err)
	}
	if err := pruneJobs(st.jobsDir(), h.Config.KeepJobs); err != nil {
		fail("pruning old job logs", err)
	}
	if err := st.removeJob(); err != nil {
		fail("removing the job's state", err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hook: job-completed: %w", err)
	}
	return nil
}

// pruneJobs keeps the newest keep job directories.
func pruneJobs(dir string, keep int) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range ents {
		if info, err := e.Info(); err == nil && e.IsDir() {
			all = append(all, aged{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return b.mod.Compare(a.mod) })
	var errs []error
	for _, a := range all[min(keep, len(all)):] {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, a.name)))
	}
	return errors.Join(errs...)
}
