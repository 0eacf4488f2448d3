package ghlog_test

import (
	"fmt"
	"os"

	"github.com/balena/leviathan-action/internal/ghlog"
)

// Copy a suite's output into the job log inside a group, with workflow
// commands stopped while the output is written.
func Example() {
	log := ghlog.New(os.Stdout)
	defer log.Close() // resume: the action's own ::error:: lines work again
	log.Command("::group::os/TestBoot")
	fmt.Fprintln(log, "::warning::printed by the suite, not processed")
	log.Command("::endgroup::")
}
