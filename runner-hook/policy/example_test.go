package policy_test

import (
	"fmt"

	"github.com/balena/leviathan-action/runner-hook/policy"
)

// The job-started hook's use: the job's environment in, a decision for the
// job log out.
func Example() {
	env := map[string]string{
		"GITHUB_EVENT_NAME":   "pull_request_target",
		"GITHUB_EVENT_PATH":   "../../testdata/events/pull_request_target-fork-labeled.json",
		"GITHUB_REPOSITORY":   "balena-os/balena-generic",
		"GITHUB_ACTOR":        "maintainer",
		"GITHUB_WORKFLOW_REF": "balena-os/balena-generic/.github/workflows/yocto-build-deploy.yml@refs/heads/main",
	}
	job, err := policy.JobFromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}

	fmt.Println(policy.Default().Decide(job).Allow)

	p, err := policy.Parse("/etc/leviathan/policy.yaml", []byte(`
forks:
  pull_request_target: allow-with-label
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Decide(job))
	// Output:
	// false
	// policy: allowed: pull_request_target for pull request #43 from fork contributor/balena-generic, approved with the label "ok-to-test"
}

func ExampleParse_error() {
	_, err := policy.Parse("/etc/leviathan/policy.yaml", []byte(`
repositories: [balena-os/*]
forks:
  pull_request_target: allow
`))
	fmt.Println(err)
	// Output:
	// policy: /etc/leviathan/policy.yaml:4: forks.pull_request_target: mode "allow" is neither "refuse" nor "allow-with-label"
}
