package serialconsole

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// DefaultExecTimeout bounds Exec when ctx has no deadline.
const DefaultExecTimeout = 30 * time.Second

// ExecError is returned when a command's end marker did not appear: the
// shell is not at a prompt, the command hangs, or the console is dead.
type ExecError struct {
	Cmd  string
	Tail string // the last console lines, as evidence
	Err  error
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("serialconsole: running %q over the console: %v; last console lines:\n%s", e.Cmd, e.Err, e.Tail)
}

func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs cmd in the shell at the console's prompt and returns what it
// printed (stdout and stderr as the terminal showed them, "\r\n" turned
// into "\n", without the trailing newline) and its exit status. ctx bounds
// the wait (DefaultExecTimeout when it has no deadline); on timeout Exec
// sends Ctrl-C and returns an *ExecError carrying the last console lines.
// Calls are serialised.
func (p *Port) Exec(ctx context.Context, cmd string) (output string, exitCode int, err error) {
	return Exec(ctx, p, cmd)
}

// Exec runs cmd over any console the way Port.Exec does (a QemuKit DUT's,
// for instance).
func Exec(ctx context.Context, c dut.Console, cmd string) (string, int, error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", -1, fmt.Errorf("serialconsole: Exec takes one line; %q has a line break", cmd)
	}
	if strings.TrimSpace(cmd) == "" {
		return "", -1, errors.New("serialconsole: Exec: empty command")
	}
	if p, ok := c.(*Port); ok {
		p.execMu.Lock()
		defer p.execMu.Unlock()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultExecTimeout)
		defer cancel()
	}
	var id [6]byte
	rand.Read(id[:])
	tag := hex.EncodeToString(id[:])
	// One line, so that no prompt is printed between the markers; eval, so
	// that a trailing "&" or "# comment" in cmd does not break the line.
	// The typed line spells the markers with an empty quoted string in the
	// middle, so the terminal's echo of the line never matches them.
	line := fmt.Sprintf("echo LEVI''S%s; eval %s; echo LEVI''E%s:$?\n", tag, shellQuote(cmd), tag)
	re := regexp.MustCompile(`LEVIS` + tag + `\r?\n((?s).*?)LEVIE` + tag + `:(\d+)`)

	capture := c.Log()
	off := capture.Len()
	if _, err := c.Write([]byte(line)); err != nil {
		return "", -1, &ExecError{Cmd: cmd, Tail: capture.Tail(20), Err: err}
	}
	_, match, err := capture.Expect(ctx, off, re)
	if err != nil {
		c.Write([]byte{0x03}) // Ctrl-C: get the prompt back for the next command
		var ee *dut.ExpectError
		if errors.As(err, &ee) {
			err = ee.Err
		}
		return "", -1, &ExecError{Cmd: cmd, Tail: capture.Tail(20), Err: fmt.Errorf("no end marker: %w", err)}
	}
	m := re.FindStringSubmatch(match)
	code, _ := strconv.Atoi(m[2])
	out := strings.ReplaceAll(m[1], "\r\n", "\n")
	out = strings.TrimSuffix(out, "\n")
	return out, code, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
