//go:build !unix

package duttest

import (
	"context"
	"fmt"
	"io"
)

// runShell is not supported off Unix: the command fails with status 127.
func runShell(ctx context.Context, command, dir string, stdin io.Reader, stdout, stderr io.Writer) (int, string) {
	fmt.Fprintln(stderr, "duttest: running commands needs a Unix system")
	return 127, ""
}
