package hook

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/dut"
)

// JobStarted is the job-started hook: gate, lease, health check, image
// pull, heartbeat, exports. On any failure after the lease was taken the
// lease is released (the DUT powered off) before it returns the error.
func (h *Hook) JobStarted(ctx context.Context) (err error) {
	if err := h.Config.validate(); err != nil {
		return err
	}
	st := state{h.Config.StateDir}
	unlock, err := st.lock()
	if err != nil {
		return err
	}
	defer unlock()

	// 1. The policy gate.
	if err := h.admit(); err != nil {
		return err
	}
	id, watch, err := h.identify()
	if err != nil {
		return err
	}

	// 2. A job that died without job-completed left its state behind.
	if err := h.cleanPrevious(ctx, st); err != nil {
		return err
	}

	// 3. Lease the DUT, waiting for a live job to finish with it.
	c, l, err := h.takeLease(ctx, id.owner())
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = h.releaseAfter(ctx, c, l.ID, err)
		}
	}()
	js := &jobState{Owner: l.Owner, Repo: id.repo, RunID: id.runID, Attempt: id.attempt, Job: id.job,
		WorkerURL: h.Config.WorkerURL, LeaseID: l.ID, LeaseTTL: Duration(h.Config.LeaseTTL),
		Started: time.Now().UTC(), Watch: watch}

	// Keep the lease alive while this hook works (a pull can be long);
	// the heartbeat process takes over at the end.
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	c.KeepAlive(kctx, l, h.Config.LeaseTTL/3)

	// 4. Health.
	if err := h.checkHealth(ctx, c, st, js); err != nil {
		return err
	}

	// 5. The testrunner image.
	if err := h.pullTestrunner(ctx, js); err != nil {
		return err
	}

	// 6. The job's scratch directory, the state, the heartbeat, and the
	// job's later steps told where the DUT is.
	return h.handOver(st, js)
}

// admit asks the policy gate whether this job may reach the DUT, telling
// the job why when it may not.
func (h *Hook) admit() error {
	if h.Gate == nil {
		return fmt.Errorf("%w: no policy gate is configured", ErrRefused)
	}
	d, err := h.Gate(h.Getenv)
	if err != nil {
		h.command("error title=Leviathan", "this job cannot be checked against the testbot's policy: "+err.Error())
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if !d.Allow {
		h.command("error title=Leviathan refused this job", d.Reason)
		if d.Advice != "" {
			h.command("notice title=What a maintainer can do", d.Advice)
		}
		return fmt.Errorf("%w: %s", ErrRefused, d.Reason)
	}
	h.printf("policy: allowed (%s)", d.Reason)
	return nil
}

// identify names the job, from the runner's GITHUB_* variables, and
// finds the process whose life is the job's.
func (h *Hook) identify() (jobID, proc, error) {
	id, err := jobFromEnv(h.Getenv)
	if err != nil {
		return jobID{}, proc{}, err
	}
	watch, err := h.jobProcess()
	if err != nil {
		return jobID{}, proc{}, err
	}
	return id, watch, nil
}

// cleanPrevious cleans up after a job that died without job-completed,
// when the state directory holds one; an unreadable record is dropped
// with a warning.
func (h *Hook) cleanPrevious(ctx context.Context, st state) error {
	prev, err := st.readJob()
	if err != nil {
		h.command("warning title=Leviathan", err.Error())
		st.removeJob()
		return nil
	}
	if prev == nil {
		return nil
	}
	return h.cleanStale(ctx, st, prev)
}

// takeLease leases the DUT for owner, waiting for a live job to finish
// with it, and returns the worker's client with the lease.
func (h *Hook) takeLease(ctx context.Context, owner string) (*client.Client, *api.Lease, error) {
	c, err := h.client("")
	if err != nil {
		return nil, nil, err
	}
	l, err := h.lease(ctx, c, owner)
	if err != nil {
		return nil, nil, err
	}
	h.printf("leased the DUT as %q (lease expires %v after the last heartbeat)", l.Owner, h.Config.LeaseTTL)
	return c, l, nil
}

// releaseAfter releases the lease after JobStarted failed with err,
// powering the DUT off, and returns err with any failure to release.
func (h *Hook) releaseAfter(ctx context.Context, c *client.Client, leaseID string, err error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if rerr := c.Release(rctx, leaseID); rerr != nil {
		return errors.Join(err, fmt.Errorf("hook: releasing the lease: %w", rerr))
	}
	h.printf("released the DUT (powered off)")
	return err
}

// checkHealth runs the health check, records its outcome in the state
// directory's health record and reports the previous job. It sets
// js.SerialStart, where the job's serial log begins. An unhealthy DUT is
// marked so and the job refused.
func (h *Hook) checkHealth(ctx context.Context, c *client.Client, st state, js *jobState) error {
	stats, serialEnd, err := h.check(ctx, c)
	js.SerialStart = serialEnd
	health := Health{Healthy: err == nil, Checked: time.Now().UTC(), Stats: stats, LastJob: js.Owner, LastJobResult: "started"}
	if prev, rerr := ReadHealth(st.dir); rerr == nil && prev.LastJob != "" {
		health.LastJob, health.LastJobResult = prev.LastJob, prev.LastJobResult
		h.report(prev)
	}
	if err != nil {
		health.Problem = err.Error()
		st.writeHealth(health)
		h.command("error title=Leviathan: the DUT is unhealthy", err.Error())
		return fmt.Errorf("hook: the DUT failed its health check, is marked unhealthy in %s and the job is refused: %w", st.healthPath(), err)
	}
	if err := st.writeHealth(health); err != nil {
		return err
	}
	h.printf("health: worker, power control and console answer")
	return nil
}

// pullTestrunner pulls the testrunner image the testbot's owner set, which
// must be named by digest, and records it in js.Image. Without one, suites
// run without the testrunner container.
func (h *Hook) pullTestrunner(ctx context.Context, js *jobState) error {
	ref := h.Config.TestrunnerImage
	if ref == "" {
		h.printf("no %s: suites will run without the testrunner container", api.EnvTestrunnerImage)
		return nil
	}
	if h.Docker == nil {
		return fmt.Errorf("hook: %s is set but no Docker Engine is configured", api.EnvTestrunnerImage)
	}
	if !strings.Contains(ref, "@sha256:") {
		return fmt.Errorf("hook: %s=%q: name the image by digest (…@sha256:…), so every job runs exactly the image the testbot's owner chose", api.EnvTestrunnerImage, ref)
	}
	h.printf("pulling the testrunner image %s", ref)
	if err := h.Docker.Pull(ctx, ref, h.Out); err != nil {
		return fmt.Errorf("hook: testrunner image: %w", err)
	}
	js.Image = ref
	return nil
}

// handOver hands the job over from this hook: it makes the job's scratch
// directory, records the job in the state directory, starts the heartbeat
// that keeps the lease alive from now on and exports the worker, lease,
// image and directory to the job's later steps. On failure after the job
// was recorded, the record is removed.
func (h *Hook) handOver(st state, js *jobState) (err error) {
	if err := h.makeJobDir(js); err != nil {
		return err
	}
	if err := st.writeJob(js); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			st.removeJob()
		}
	}()
	if err := h.startHeartbeat(st, js); err != nil {
		return err
	}
	return h.export(js)
}

// makeJobDir makes the job's scratch directory under RUNNER_TEMP, when the
// runner sets it, and records it in js.TempDir.
func (h *Hook) makeJobDir(js *jobState) error {
	tmp := h.Getenv("RUNNER_TEMP")
	if tmp == "" {
		return nil
	}
	js.TempDir = filepath.Join(tmp, "leviathan")
	if err := os.MkdirAll(js.TempDir, 0o750); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	return nil
}

// startHeartbeat starts the heartbeat process, which keeps the lease
// alive from now on, and records it in the job's state.
func (h *Hook) startHeartbeat(st state, js *jobState) error {
	if h.StartHeartbeat == nil {
		return errors.New("hook: no way to start the heartbeat process is configured")
	}
	pid, err := h.StartHeartbeat(st.dir)
	if err != nil {
		return fmt.Errorf("hook: starting the heartbeat: %w", err)
	}
	if js.Heartbeat, err = procOf(pid); err != nil {
		return fmt.Errorf("hook: the heartbeat process exited at once: see %s", filepath.Join(st.dir, "heartbeat.log"))
	}
	return st.writeJob(js)
}

// report prints the DUT's record from the previous job, warning about
// what a testbot owner should look at.
func (h *Hook) report(prev Health) {
	s := prev.Stats
	line := fmt.Sprintf("previous job: %s (%s)", prev.LastJob, prev.LastJobResult)
	if s.LastFlashMBps > 0 {
		line += fmt.Sprintf("; last flash %.1f MB/s", s.LastFlashMBps)
	}
	if s.LastBootSeconds > 0 {
		line += fmt.Sprintf("; last boot %.1fs", s.LastBootSeconds)
	}
	h.printf("%s; %d of %d flashes and %d of %d boots failed, %d leases expired since the worker started",
		line, s.FlashFailures, s.Flashes, s.BootFailures, s.Boots, s.LeasesExpired)
	if prev.LastJobResult != "completed" && prev.LastJobResult != "started" {
		h.command("warning title=Leviathan: the previous job on this DUT", prev.LastJob+": "+prev.LastJobResult)
	}
}

// jobProcess finds the runner's job process, or the one named by
// LEVIATHAN_WATCH_PID.
func (h *Hook) jobProcess() (proc, error) {
	if v := h.Getenv("LEVIATHAN_WATCH_PID"); v != "" {
		pid, err := strconv.Atoi(v)
		if err != nil {
			return proc{}, fmt.Errorf("hook: LEVIATHAN_WATCH_PID=%q: not a process id", v)
		}
		p, err := procOf(pid)
		if err != nil {
			return proc{}, fmt.Errorf("hook: LEVIATHAN_WATCH_PID=%d: %w", pid, err)
		}
		return p, nil
	}
	p, err := runnerProcess(os.Getpid())
	if err != nil {
		return proc{}, fmt.Errorf("%w: run leviathan-hook from the runner's job hooks, or set LEVIATHAN_WATCH_PID to the process whose life is the job's", err)
	}
	return p, nil
}

// cleanStale removes what a job that died without job-completed left:
// its heartbeat, containers, lease and files.
func (h *Hook) cleanStale(ctx context.Context, st state, prev *jobState) error {
	if prev.Watch.alive() {
		// Its runner still lives: not stale. The lease wait decides.
		h.printf("the previous job (%s) still runs", prev.Owner)
		return nil
	}
	h.command("warning title=Leviathan", fmt.Sprintf("the previous job on this DUT (%s, started %s) ended without job-completed; cleaning up after it", prev.Owner, prev.Started.Format(time.RFC3339)))
	if prev.Heartbeat.alive() {
		syscall.Kill(prev.Heartbeat.PID, syscall.SIGTERM)
	}
	var errs []error
	if h.Docker != nil {
		if err := h.Docker.Remove(ctx, prev.labels()); err != nil {
			errs = append(errs, fmt.Errorf("removing its containers: %w", err))
		}
	}
	if c, err := h.client(""); err == nil {
		if err := c.Release(ctx, prev.LeaseID); err != nil && !client.IsCode(err, api.CodeLeaseUnknown) {
			errs = append(errs, fmt.Errorf("releasing its lease: %w", err))
		}
	}
	if prev.TempDir != "" {
		os.RemoveAll(prev.TempDir)
	}
	if hl, err := ReadHealth(st.dir); err == nil {
		hl.LastJob, hl.LastJobResult = prev.Owner, "died without job-completed"
		st.writeHealth(hl)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hook: cleaning up after the previous job: %w", err)
	}
	return st.removeJob()
}

// lease takes the DUT, waiting up to LeaseWait while a live job holds it.
func (h *Hook) lease(ctx context.Context, c *client.Client, owner string) (*api.Lease, error) {
	poll := h.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	deadline := time.Now().Add(h.Config.LeaseWait)
	said := false
	for {
		l, err := c.Lease(ctx, owner, h.Config.LeaseTTL)
		if err == nil {
			return l, nil
		}
		if !client.IsCode(err, api.CodeLeaseHeld) {
			return nil, fmt.Errorf("hook: leasing the DUT: %w", err)
		}
		if !time.Now().Add(poll).Before(deadline) {
			return nil, fmt.Errorf("hook: the DUT is still leased after waiting %v (LEVIATHAN_LEASE_WAIT): %w; a lease whose holder died expires within its TTL, so a live job holds it — wait for it or raise LEVIATHAN_LEASE_WAIT", h.Config.LeaseWait, err)
		}
		if !said {
			var ce *client.Error
			errors.As(err, &ce)
			h.printf("waiting up to %v for the DUT: %s", h.Config.LeaseWait, ce.Message)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("hook: waiting for the DUT: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// check is the health check: the worker answers, power control answers,
// and the serial console (when the DUT has one) is alive.
// It returns the worker's figures and the console's current end, from
// where job-completed collects the job's serial log.
func (h *Hook) check(ctx context.Context, c *client.Client) (api.Stats, int64, error) {
	hc, err := c.Health(ctx)
	if err != nil {
		return api.Stats{}, 0, fmt.Errorf("the worker does not answer: %w", err)
	}
	if !hc.OK {
		return hc.Stats, 0, fmt.Errorf("power control does not answer: %s", hc.Problem)
	}
	if _, err := c.PowerState(ctx); err != nil {
		return hc.Stats, 0, fmt.Errorf("power control does not answer: %w", err)
	}
	ct, err := c.Contract(ctx)
	if err != nil {
		return hc.Stats, 0, fmt.Errorf("the worker does not give the DUT's contract: %w", err)
	}
	for _, cp := range ct.Capabilities {
		if cp != dut.CapConsole {
			continue
		}
		if !hc.Console {
			return hc.Stats, 0, errors.New("the serial console is not alive (the adapter is unplugged or the capture stopped)")
		}
		_, end, err := c.SerialLog(ctx, math.MaxInt64)
		if err != nil {
			return hc.Stats, 0, fmt.Errorf("the serial console does not answer: %w", err)
		}
		return hc.Stats, end, nil
	}
	return hc.Stats, 0, nil
}

// export hands the worker, lease and image to the job's later steps. The
// job gets the lease's id, its only credential: good for this lease while
// it lives, never the worker's token, which takes and releases leases.
func (h *Hook) export(js *jobState) error {
	vars := [][2]string{
		{api.EnvWorkerURL, js.WorkerURL},
		{api.EnvLease, js.LeaseID},
	}
	if js.Image != "" {
		vars = append(vars, [2]string{api.EnvTestrunnerImage, js.Image})
	}
	if js.TempDir != "" {
		vars = append(vars, [2]string{api.EnvJobDir, js.TempDir})
	}
	h.command("add-mask", js.LeaseID)
	path := h.Getenv("GITHUB_ENV")
	if path == "" {
		return errors.New("hook: GITHUB_ENV is not set: run this from the runner's job hooks, which set it")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("hook: GITHUB_ENV: %w", err)
	}
	var b strings.Builder
	for _, v := range vars {
		if strings.ContainsAny(v[1], "\r\n") {
			f.Close()
			return fmt.Errorf("hook: %s holds a line break; it cannot be exported", v[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", v[0], v[1])
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("hook: GITHUB_ENV: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hook: GITHUB_ENV: %w", err)
	}
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v[0]
	}
	h.printf("exported %s to the job's steps", strings.Join(names, ", "))
	return nil
}
