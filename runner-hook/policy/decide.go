package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Decision is the gate's answer for one job.
type Decision struct {
	// Allow says whether the job may touch the hardware.
	Allow bool
	// Reason says why, in one line.
	Reason string
	// Advice says what a maintainer can do to run the job; empty when
	// allowed.
	Advice string
}

// String gives the decision as lines for the job log.
func (d Decision) String() string {
	if d.Allow {
		return "policy: allowed: " + d.Reason
	}
	s := "policy: refused: " + d.Reason
	if d.Advice != "" {
		s += "\npolicy: what a maintainer can do: " + d.Advice
	}
	return s
}

func allow(format string, args ...any) Decision {
	return Decision{Allow: true, Reason: fmt.Sprintf(format, args...)}
}

func refuse(advice, format string, args ...any) Decision {
	return Decision{Reason: fmt.Sprintf(format, args...), Advice: advice}
}

// file names the policy file in advice.
func (p *Policy) file() string {
	if p.Source == "" {
		return "the runner's policy file (none is installed: the built-in default applies)"
	}
	return p.Source
}

// dispatchAdvice is the way out that always exists: a maintainer runs the
// workflow from the repository itself.
func (p *Policy) dispatchAdvice(j Job) string {
	who := "a maintainer"
	if len(p.TrustedActors) > 0 {
		who = "someone on trusted-actors (" + strings.Join(p.TrustedActors, ", ") + ")"
	}
	return fmt.Sprintf("after reviewing the code, push it to a branch of %s and have %s start the workflow there with workflow_dispatch", j.Repository, who)
}

// Decide says whether the job may run on the hardware. It refuses unless
// every check passes; see the package documentation for the checks.
func (p *Policy) Decide(j Job) Decision {
	if !slices.Contains(p.events(), j.Event) {
		return refuse(
			fmt.Sprintf("if workflows triggered by %q never run unreviewed code, add it to events in %s; or start the workflow with workflow_dispatch", j.Event, p.file()),
			"event %q is not on the policy's event list (%s)", j.Event, strings.Join(p.events(), ", "))
	}
	if r := j.Payload.Repository; r != nil && r.FullName != "" && !strings.EqualFold(r.FullName, j.Repository) {
		return refuse("check the runner: the event payload does not belong to this job",
			"the event payload's repository %s is not GITHUB_REPOSITORY %s", r.FullName, j.Repository)
	}
	if len(p.Repositories) > 0 && !match(p.Repositories, j.Repository) {
		return refuse(
			fmt.Sprintf("if %s is trusted, add it to repositories in %s", j.Repository, p.file()),
			"repository %s is not on the policy's repositories list", j.Repository)
	}
	if len(p.Workflows) > 0 {
		wf := workflowPath(j.WorkflowRef)
		if wf == "" {
			return refuse("run the hook from a runner that sets GITHUB_WORKFLOW_REF, or drop workflows from "+p.file(),
				"GITHUB_WORKFLOW_REF is not set and the policy allows only listed workflows")
		}
		if !match(p.Workflows, wf) {
			return refuse(
				fmt.Sprintf("run the tests from an allowed workflow (%s), or add %s to workflows in %s", strings.Join(p.Workflows, ", "), wf, p.file()),
				"workflow %s is not on the policy's workflows list", wf)
		}
	}
	d := p.decideEvent(j)
	if !d.Allow {
		return d
	}
	if len(p.Actors) > 0 {
		for _, a := range []string{j.Actor, j.TriggeringActor} {
			if a != "" && !match(p.Actors, a) {
				return refuse(
					fmt.Sprintf("if %s is trusted, add them to actors in %s; or %s", a, p.file(), p.dispatchAdvice(j)),
					"actor %s is not on the policy's actors list", a)
			}
		}
	}
	return d
}

// decideEvent applies the event's own checks: forks, labels, dispatchers.
func (p *Policy) decideEvent(j Job) Decision {
	pl := j.Payload
	switch {
	case (j.Event == "pull_request" || j.Event == "pull_request_target") && pl.PullRequest == nil,
		j.Event == "workflow_run" && pl.WorkflowRun == nil:
		return refuse("check the runner: the event payload (GITHUB_EVENT_PATH) is incomplete",
			"%s event whose payload has no %s object", j.Event, payloadObject(j.Event))
	case pl.PullRequest != nil:
		return p.decidePullRequest(j)
	case pl.WorkflowRun != nil:
		wr := pl.WorkflowRun
		base := wr.Repository
		if base == nil {
			base = pl.Repository
		}
		if fork, why := isFork(wr.HeadRepository, base); fork {
			return refuse(
				p.dispatchAdvice(j),
				"workflow_run after a %s run whose head %s: the policy refuses jobs that follow runs of fork code", orUnknown(wr.Event), why)
		}
		return allow("%s after a %s run in %s", j.Event, orUnknown(wr.Event), j.Repository)
	case j.Event == "workflow_dispatch":
		if len(p.TrustedActors) > 0 {
			for _, a := range []string{j.Actor, j.TriggeringActor} {
				if a != "" && !match(p.TrustedActors, a) {
					return refuse(
						fmt.Sprintf("ask someone on trusted-actors (%s) to start it, or add %s to trusted-actors in %s", strings.Join(p.TrustedActors, ", "), a, p.file()),
						"workflow_dispatch by %s, who is not on the policy's trusted-actors list", a)
				}
			}
		}
		return allow("workflow_dispatch in %s by %s", j.Repository, j.Actor)
	}
	return allow("%s in %s by %s", j.Event, j.Repository, j.Actor)
}

func (p *Policy) decidePullRequest(j Job) Decision {
	pr := j.Payload.PullRequest
	fork, why := isFork(pr.Head.Repo, pr.Base.Repo)
	if !fork {
		return allow("%s for pull request #%d from %s itself", j.Event, pr.Number, repoName(pr.Head.Repo))
	}
	var mode ForkMode
	var key string
	switch j.Event {
	case "pull_request":
		mode, key = p.PullRequestForks, "forks.pull_request"
	case "pull_request_target":
		mode, key = p.PullRequestTargetForks, "forks.pull_request_target"
	default:
		return refuse(
			fmt.Sprintf("run it through pull_request_target with a trusted label, or %s", p.dispatchAdvice(j)),
			"%s event for pull request #%d whose head %s; only pull_request and pull_request_target can run fork code, under a trusted label",
			j.Event, pr.Number, why)
	}
	if mode != AllowWithLabel {
		return refuse(
			fmt.Sprintf("%s; or set %s: %s in %s, and then label reviewed pull requests %q", p.dispatchAdvice(j), key, AllowWithLabel, p.file(), p.labels()[0]),
			"%s for pull request #%d whose head %s: the policy refuses %s jobs from forks", j.Event, pr.Number, why, j.Event)
	}
	if l, ok := p.trustedLabel(j.Payload); ok {
		return allow("%s for pull request #%d from fork %s, approved with the label %q", j.Event, pr.Number, repoName(pr.Head.Repo), l)
	}
	sha := pr.Head.SHA
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return refuse(
		fmt.Sprintf("review the changes up to %s and add the label %q to pull request #%d (the workflow removes it, so every new push needs a new approval)", orUnknown(sha), p.labels()[0], pr.Number),
		"%s for pull request #%d whose head %s, and no trusted label (%s) is on it", j.Event, pr.Number, why, strings.Join(p.labels(), ", "))
}

// trustedLabel finds a trusted label on the pull request: among its labels
// or, for a labeled event, the label just added.
func (p *Policy) trustedLabel(pl Payload) (string, bool) {
	names := make([]string, 0, len(pl.PullRequest.Labels)+1)
	for _, l := range pl.PullRequest.Labels {
		names = append(names, l.Name)
	}
	if pl.Action == "labeled" && pl.Label != nil {
		names = append(names, pl.Label.Name)
	}
	for _, t := range p.labels() {
		for _, n := range names {
			if n == t {
				return t, true
			}
		}
	}
	return "", false
}

// isFork reports whether head is another repository than base, and says
// how in words that follow "whose head".
func isFork(head, base *Repository) (bool, string) {
	switch {
	case head == nil:
		return true, "repository is gone (a deleted fork)"
	case base == nil:
		return true, fmt.Sprintf("is in %s and the payload names no base repository", repoName(head))
	case head.ID != 0 && base.ID != 0 && head.ID != base.ID,
		!strings.EqualFold(head.FullName, base.FullName):
		return true, fmt.Sprintf("is in the fork %s, not %s", repoName(head), repoName(base))
	case head.Fork != base.Fork:
		return true, fmt.Sprintf("is in %s, and only one of head and base is marked as a fork", repoName(head))
	}
	return false, ""
}

func repoName(r *Repository) string {
	if r == nil {
		return "(deleted repository)"
	}
	return orUnknown(r.FullName)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// workflowPath is GITHUB_WORKFLOW_REF without its "@ref".
func workflowPath(ref string) string {
	if i := strings.Index(ref, "@refs/"); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// payloadObject names the payload object an event's checks need.
func payloadObject(event string) string {
	if event == "workflow_run" {
		return "workflow_run"
	}
	return "pull_request"
}
