package testbot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/testbot/htmlreport"
	"github.com/balena/leviathan-action/testbot/visual"
)

// IndexFile is the visual report's name in a report directory.
const IndexFile = visual.IndexFile

// keepSession saves the worker's recording of the lease's session in the
// reports, before the lease ends (which drops it), even after the run was
// cancelled.
func (r *run) keepSession(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	b, err := r.c.Session(sctx)
	if err != nil {
		r.o.Log.Warn("testbot: fetching the session's recording", "err", err)
		return
	}
	if err := os.WriteFile(filepath.Join(r.o.ReportDir, session.FileName), b, 0o644); err != nil {
		r.o.Log.Warn("testbot: writing the session's recording", "err", err)
	}
}

// writeIndex writes index.html, the visual report, for a run that ended
// with runErr (nil: it completed).
func (r *run) writeIndex(runErr error) {
	o, res, t := r.o, r.res, r.res.Timings
	in := visual.Index{Title: "Leviathan: " + o.Image.String(), Started: r.at.start}
	if o.DeviceType != "" {
		in.Title += " on " + o.DeviceType
	}
	if runErr != nil {
		in.Failure = fmt.Sprintf("stage %q: %v", res.Stage, runErr)
	}
	fact := func(name, value string, mono bool) {
		if value != "" {
			in.Facts = append(in.Facts, htmlreport.Fact{Name: name, Value: value, Mono: mono})
		}
	}
	fact("image", o.Image.String(), false)
	sum := res.Flash.SHA256
	if sum == "" {
		sum = o.SHA256
	}
	fact("image SHA-256", sum, true)
	if res.Flash.ImageBytes > 0 {
		cached := ""
		if res.Cached {
			cached = ", the worker's cached copy"
		}
		fact("image size", fmt.Sprintf("%s (%s%s)", mib(res.Flash.ImageBytes), res.Flash.Format, cached), false)
	}
	fact("device type", o.DeviceType, false)
	fact("timings", t.String(), false)
	fact("reproduce locally", o.Reproduce, true)
	in.Stages = r.stages()
	if err := visual.WriteIndex(o.ReportDir, in); err != nil {
		o.Log.Warn("testbot: writing the visual report", "err", err)
		fmt.Fprintf(o.Out, "warning: no visual report: %v\n", err)
	}
}

// stages places the run's stages on the timeline.
func (r *run) stages() []htmlreport.Span {
	t, at := r.res.Timings, r.at
	var spans []htmlreport.Span
	span := func(name string, start time.Time, d time.Duration) {
		if !start.IsZero() && d > 0 {
			spans = append(spans, htmlreport.Span{Name: name, Start: start, End: start.Add(d)})
		}
	}
	span("lease", at.start, t.Lease)
	span("flash", at.flash, t.Flash)
	span("boot", at.powerOn, t.Boot)
	for _, m := range []struct {
		name string
		d    time.Duration
	}{{"firmware", t.BootFirmware}, {"kernel", t.BootKernel}, {"userspace", t.BootUserspace}, {"SSH up", t.Boot}} {
		if !at.powerOn.IsZero() && m.d > 0 {
			p := at.powerOn.Add(m.d)
			spans = append(spans, htmlreport.Span{Name: m.name, Start: p, End: p})
		}
	}
	span("waiting for the suites", at.prepare, t.Prepare)
	span("suites", at.suites, t.Suites)
	return spans
}
