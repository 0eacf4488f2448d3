package ghlog

import (
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Writer copies untrusted text into a job log with workflow commands
// stopped. Write, Command and Close may be called from several goroutines
// (a container's stdout and stderr sharing one log); each call writes to
// the log in one piece, between the others.
type Writer struct {
	mu        sync.Mutex
	w         io.Writer
	token     string // the token of the stopped region; "" when not stopped
	lineStart bool   // the last byte written ended a line, or none was written
}

var _ io.WriteCloser = (*Writer)(nil)

// New returns a Writer to the job log w. It writes nothing until the first
// Write or Command; w must then be at the start of a line.
func New(w io.Writer) *Writer {
	return &Writer{w: w, lineStart: true}
}

// Write writes p, untrusted, to the log, first stopping workflow commands
// with a fresh token if they are not stopped.
func (u *Writer) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if err := u.stop(); err != nil {
		return 0, err
	}
	n, err := u.w.Write(p)
	if n > 0 {
		u.lineStart = p[n-1] == '\n'
	}
	if err != nil {
		return n, fmt.Errorf("ghlog: %w", err)
	}
	return n, nil
}

// Command writes line, a trusted workflow command such as
// "::group::TITLE", where the runner processes it: it resumes commands if
// they are stopped, on a line of its own, and writes line. The next Write
// stops commands again with a fresh token. Line must be a single line; a
// line feed or carriage return in it is an error and nothing is written.
func (u *Writer) Command(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("ghlog: command %q spans lines", line)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.resume(); err != nil {
		return err
	}
	_, err := u.put(line + "\n")
	return err
}

// Close resumes workflow commands if they are stopped, ending an unfinished
// untrusted line first, so that what is written to the log after it is
// processed again. The Writer stays usable: a later Write stops commands
// again with a fresh token.
func (u *Writer) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.resume()
}

// stop starts a stopped region unless one is open.
func (u *Writer) stop() error {
	if u.token != "" {
		return nil
	}
	token := rand.Text()
	done, err := u.put("::stop-commands::" + token + "\n")
	if done {
		// Stopped, even if w reported an error: only this token resumes.
		u.token = token
	}
	return err
}

// resume ends the stopped region, if one is open.
func (u *Writer) resume() error {
	if u.token == "" {
		return nil
	}
	done, err := u.put("::" + u.token + "::\n")
	if done {
		u.token = ""
	}
	return err
}

// put writes a line of Writer's own, starting it on a new line. done
// reports whether all of it reached w.
func (u *Writer) put(line string) (done bool, err error) {
	if !u.lineStart {
		line = "\n" + line
	}
	n, err := io.WriteString(u.w, line)
	if n > 0 {
		u.lineStart = line[n-1] == '\n'
	}
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n == len(line), fmt.Errorf("ghlog: %w", err)
	}
	return true, nil
}
