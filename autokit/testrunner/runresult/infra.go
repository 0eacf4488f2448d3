package runresult

import "fmt"

// InfraError is a run that failed for reasons other than the tests, with
// the evidence.
type InfraError struct {
	Reason    string // "oom-killed", "killed by signal 9", "no reports", …
	ExitCode  int
	OOMKilled bool
	Output    string // the last output of the container
}

func (e *InfraError) Error() string {
	return fmt.Sprintf("testrunner: testrunner infrastructure failure: %s (exit code %d)", e.Reason, e.ExitCode)
}
