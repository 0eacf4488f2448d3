// Package hostcmd runs the host commands the network drivers and the
// procedures need (ip, nft, nmcli) behind a function type, so tests can
// check the exact argument lists against a fake and the drivers stay free
// of os/exec details.
//
// Limits: commands run to completion; their combined output is kept in
// memory (these tools print a few lines).
package hostcmd

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs name with args, feeding it stdin (nil for none), and returns
// its combined output. A command that fails returns an *ExitError.
type Runner func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// ExitError is a command that failed, with its output as evidence.
type ExitError struct {
	// Args is the command line, with secrets already redacted.
	Args   []string
	Code   int // the exit code, -1 when it did not run or was killed
	Output string
	Err    error
}

func (e *ExitError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("hostcmd: %s: %v%s", strings.Join(e.Args, " "), e.Err, out)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exec runs commands on this host with os/exec. It is the Runner the
// drivers use unless told otherwise.
func Exec(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return out.Bytes(), &ExitError{Args: append([]string{name}, args...), Code: code, Output: out.String(), Err: err}
	}
	return out.Bytes(), nil
}

// Call is one command a Fake received.
type Call struct {
	Stdin string
	Args  []string // name first
}

// String is the command line, space-separated.
func (c Call) String() string { return strings.Join(c.Args, " ") }

// Fake records the commands it is asked to run and answers from Reply.
// It is not safe for concurrent use.
type Fake struct {
	Calls []Call
	// Reply, when set, returns the output and error for a command; the
	// zero Fake succeeds with no output.
	Reply func(c Call) ([]byte, error)
}

// Run is a Runner.
func (f *Fake) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	c := Call{Stdin: string(stdin), Args: append([]string{name}, args...)}
	f.Calls = append(f.Calls, c)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.Reply != nil {
		return f.Reply(c)
	}
	return nil, nil
}

// Lines is the recorded command lines, one string each.
func (f *Fake) Lines() []string {
	l := make([]string, len(f.Calls))
	for i, c := range f.Calls {
		l[i] = c.String()
	}
	return l
}
