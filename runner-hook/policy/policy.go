package policy

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// ForkMode says what happens to jobs of pull requests from forks.
type ForkMode string

const (
	// Refuse refuses every job of a pull request from a fork.
	Refuse ForkMode = "refuse"
	// AllowWithLabel allows a job of a pull request from a fork when one
	// of the policy's trusted labels is on the pull request.
	AllowWithLabel ForkMode = "allow-with-label"
)

// DefaultEvents are the events the gate understands and [Default] allows.
// Read it; do not modify it.
var DefaultEvents = []string{
	"push",
	"pull_request",
	"pull_request_target",
	"workflow_dispatch",
	"schedule",
	"workflow_run",
}

// DefaultTrustedLabels are the labels that approve a pull request from a
// fork when a policy names none. Read it; do not modify it.
var DefaultTrustedLabels = []string{"ok-to-test"}

// Policy is the gate's configuration. The zero value of a list means:
// Repositories, Actors, Workflows, TrustedActors — anyone or anything;
// Events — [DefaultEvents]; TrustedLabels — [DefaultTrustedLabels]. A zero
// ForkMode refuses.
type Policy struct {
	// Source names where the policy came from (the file name given to
	// Parse or Load), so advice can point a maintainer at it. Empty for
	// Default.
	Source string

	// Repositories are globs on GITHUB_REPOSITORY ("balena-os/*").
	Repositories []string
	// Actors are globs on GITHUB_ACTOR and GITHUB_TRIGGERING_ACTOR; both
	// must match.
	Actors []string
	// Workflows are globs on the path part of GITHUB_WORKFLOW_REF, the
	// part before "@": "balena-os/*/.github/workflows/test.yml".
	Workflows []string
	// Events are the allowed values of GITHUB_EVENT_NAME. Events other
	// than DefaultEvents are checked against the allow lists only.
	Events []string

	// PullRequestForks is the mode for pull_request jobs from forks.
	PullRequestForks ForkMode
	// PullRequestTargetForks is the mode for pull_request_target jobs
	// from forks.
	PullRequestTargetForks ForkMode
	// TrustedLabels are the labels that approve a pull request from a
	// fork under AllowWithLabel.
	TrustedLabels []string
	// TrustedActors are globs on the logins that may start
	// workflow_dispatch runs.
	TrustedActors []string
}

// Default returns the secure default: pull requests from forks are
// refused, the repository's own events are allowed.
func Default() *Policy {
	return &Policy{
		Events:                 slices.Clone(DefaultEvents),
		PullRequestForks:       Refuse,
		PullRequestTargetForks: Refuse,
		TrustedLabels:          slices.Clone(DefaultTrustedLabels),
	}
}

// Validate checks a policy built in code; Parse checks files with line
// numbers instead.
func (p *Policy) Validate() error {
	check := func(what string, list []string, f func(string) error) error {
		for _, s := range list {
			if err := f(s); err != nil {
				return fmt.Errorf("policy: %s: %w", what, err)
			}
		}
		return nil
	}
	for _, c := range []struct {
		what string
		list []string
		f    func(string) error
	}{
		{keyRepositories, p.Repositories, checkRepositoryGlob},
		{keyActors, p.Actors, checkActorGlob},
		{keyWorkflows, p.Workflows, checkWorkflowGlob},
		{keyEvents, p.Events, checkEvent},
		{keyTrustedLabels, p.TrustedLabels, checkLabel},
		{keyTrustedActors, p.TrustedActors, checkActorGlob},
	} {
		if err := check(c.what, c.list, c.f); err != nil {
			return err
		}
	}
	for _, m := range []ForkMode{p.PullRequestForks, p.PullRequestTargetForks} {
		if err := checkMode(m); m != "" && err != nil {
			return fmt.Errorf("policy: %s: %w", keyForks, err)
		}
	}
	return nil
}

func (p *Policy) events() []string {
	if len(p.Events) == 0 {
		return DefaultEvents
	}
	return p.Events
}

func (p *Policy) labels() []string {
	if len(p.TrustedLabels) == 0 {
		return DefaultTrustedLabels
	}
	return p.TrustedLabels
}

func checkGlob(s string) error {
	if s == "" {
		return fmt.Errorf("empty pattern")
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("bad glob %q: %w", s, err)
	}
	return nil
}

func checkRepositoryGlob(s string) error {
	if err := checkGlob(s); err != nil {
		return err
	}
	if strings.Count(s, "/") != 1 || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return fmt.Errorf("%q is not an owner/name pattern", s)
	}
	return nil
}

func checkActorGlob(s string) error {
	if err := checkGlob(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, "/@ \t") {
		return fmt.Errorf("%q is not a login pattern", s)
	}
	return nil
}

func checkWorkflowGlob(s string) error {
	if err := checkGlob(s); err != nil {
		return err
	}
	if strings.Contains(s, "@") {
		return fmt.Errorf("%q has a ref: workflow patterns match the part of GITHUB_WORKFLOW_REF before \"@\"", s)
	}
	if strings.Count(s, "/") < 2 || strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q is not an owner/name/path pattern (such as \"balena-os/*/.github/workflows/test.yml\")", s)
	}
	return nil
}

var eventName = regexp.MustCompile(`^[a-z][a-z_]*$`)

func checkEvent(s string) error {
	if !eventName.MatchString(s) {
		return fmt.Errorf("%q is not an event name (such as \"pull_request_target\")", s)
	}
	return nil
}

func checkLabel(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty label")
	}
	return nil
}

func checkMode(m ForkMode) error {
	switch m {
	case Refuse, AllowWithLabel:
		return nil
	}
	return fmt.Errorf("mode %q is neither %q nor %q", string(m), Refuse, AllowWithLabel)
}

// match reports whether s matches one of the globs, ignoring case.
func match(globs []string, s string) bool {
	s = strings.ToLower(s)
	for _, g := range globs {
		if ok, err := path.Match(strings.ToLower(g), s); err == nil && ok {
			return true
		}
	}
	return false
}
