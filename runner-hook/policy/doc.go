// Package policy is the runner hook's gate: it decides whether a GitHub
// Actions job that landed on a testbot may touch the hardware.
//
// The testbot is a self-hosted runner wired to a real device, so a job that
// runs code nobody trusted could flash, power-cycle or read anything the
// testbot can reach. The job-started hook builds a [Job] from the runner's
// environment with [JobFromEnv] (the GITHUB_* variables and the event
// payload that GITHUB_EVENT_PATH names), loads a [Policy] with [Load] or
// takes [Default], and asks [Policy.Decide]. The [Decision] says whether to
// go on, why, and — on refusal — what a maintainer can do; the hook prints
// it to the job log and fails the job.
//
// # What is refused
//
// A pull request is from a fork when the payload's
// pull_request.head.repo differs from pull_request.base.repo (by id or
// full name), when head.repo is null (the fork was deleted), or when only
// one of the two is marked as a fork. A workflow_run job is from a fork
// when workflow_run.head_repository differs from the repository.
//
//   - pull_request from a fork: refused; or, with mode allow-with-label,
//     allowed when a trusted label is on the pull request.
//   - pull_request_target from a fork: the same. The hook cannot see
//     whether the workflow checks out the fork's head, so every
//     pull_request_target job from a fork counts as running fork code.
//   - workflow_run triggered by a run of fork code: refused.
//   - any other event carrying a pull request from a fork: refused.
//   - events not on the policy's event list: refused, naming the event.
//   - repositories, actors (GITHUB_ACTOR and GITHUB_TRIGGERING_ACTOR) and
//     workflow files (GITHUB_WORKFLOW_REF without its @ref) not on the
//     allow lists, when the lists are set.
//   - workflow_dispatch by someone not on the trusted-actor list, when it
//     is set.
//
// [Default] is the secure default used when no policy file exists: pull
// requests from forks are refused (pull_request and pull_request_target),
// the repository's own push, pull_request, pull_request_target,
// workflow_dispatch, schedule and workflow_run events are allowed.
//
// # The policy file
//
// [Parse] reads YAML; every error names the file and line, including
// unknown keys, wrong types and bad globs, so a hook can refuse to start
// on a broken policy rather than guess. testdata/policy.example.yaml
// documents every key.
//
// # Limits
//
// The gate sees the event payload and the job's environment only; it has
// no token and asks GitHub nothing. So:
//   - labels are those in the payload, a snapshot taken when the event was
//     sent. The workflow must remove the trusted label after use so the
//     next push needs a fresh approval; a push made while the label is
//     still on the pull request arrives with the label.
//   - a label approves the head commit in the payload. A
//     pull_request_target workflow must check out
//     github.event.pull_request.head.sha, not the branch, or a push made
//     after the approval runs unreviewed.
//   - under pull_request, a fork's workflow gets a read-only token and
//     cannot remove the label, so allow-with-label there approves later
//     pushes too until a maintainer removes the label by hand; prefer
//     pull_request_target for the label mode.
//   - it cannot tell what a job checks out, nor whether a workflow from a
//     fork's pull_request was edited by the fork (such workflows come from
//     the merge commit, so a workflow allow list protects nothing there).
//   - events it does not know but a policy lists are checked against the
//     allow lists only; list only events whose workflows never run
//     untrusted code (issue_comment workflows that check out pull request
//     heads, for one, must not be listed).
//   - globs are [path.Match] patterns, matched case-insensitively; "*"
//     does not cross "/".
//
// The package does no logging and reads no files other than the ones it
// is given.
package policy
