package testrunner

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/testrunner/runresult"
	"github.com/docker/docker/api/types"
	containertypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// output is the container's attached output, copied live to the Spec's
// writers (grouped per test when asked) and kept, its last 4 KiB, as
// evidence for an InfraError.
type output struct {
	hijack types.HijackedResponse
	last   *tail
	group  io.WriteCloser // nil unless Spec.GroupTests
	copied chan struct{}  // closed when the copy ends
}

// attach attaches to the container, before it starts, and copies its
// output until it exits or out.close.
func (r *run) attach(ctx context.Context, id string) (*output, error) {
	hijack, err := r.cli.ContainerAttach(ctx, id, containertypes.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, engineErr(r.host, "attaching", err)
	}
	out := &output{hijack: hijack, last: &tail{max: 4 << 10}, copied: make(chan struct{})}
	stdout := io.MultiWriter(orDiscard(r.s.Stdout), out.last)
	if r.s.GroupTests {
		out.group = runresult.NewGroupWriter(orDiscard(r.s.Stdout))
		stdout = io.MultiWriter(out.group, out.last)
	}
	stderr := io.MultiWriter(orDiscard(r.s.Stderr), out.last)
	go func() {
		defer close(out.copied)
		stdcopy.StdCopy(stdout, stderr, hijack.Reader)
	}()
	return out, nil
}

// finish waits up to 5 s for the copy of an exited container's output to
// end, cutting it off after, and closes the last test's group.
func (o *output) finish() {
	select {
	case <-o.copied:
	case <-time.After(5 * time.Second):
		o.hijack.Close()
		<-o.copied
	}
	if o.group != nil {
		o.group.Close()
	}
}

// close ends the attachment.
func (o *output) close() { o.hijack.Close() }

// tail keeps the last bytes written to it, as evidence for errors.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
