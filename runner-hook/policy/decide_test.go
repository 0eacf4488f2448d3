package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	repo       = "balena-os/balena-generic"
	workflow   = "balena-os/balena-generic/.github/workflows/yocto-build-deploy.yml"
	maintainer = "maintainer"
	outsider   = "contributor"
)

// env is the environment a runner gives the job-started hook for a fixture.
type env map[string]string

func fixtureEnv(fixture, event, actor, ref string) env {
	return env{
		"GITHUB_EVENT_PATH":       filepath.Join(eventsDir, fixture),
		"GITHUB_EVENT_NAME":       event,
		"GITHUB_REPOSITORY":       repo,
		"GITHUB_ACTOR":            actor,
		"GITHUB_TRIGGERING_ACTOR": actor,
		"GITHUB_WORKFLOW_REF":     workflow + "@" + ref,
		"GITHUB_RUN_ID":           "9876543211",
		"GITHUB_JOB":              "test",
		"GITHUB_REF":              ref,
	}
}

func (e env) get(k string) string { return e[k] }

func (e env) with(k, v string) env {
	c := env{}
	for k, v := range e {
		c[k] = v
	}
	c[k] = v
	return c
}

func mustJob(t *testing.T, e env) Job {
	t.Helper()
	j, err := JobFromEnv(e.get)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("/etc/leviathan/policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The jobs, one per fixture (and one fixture read as another event).
var (
	pushJob         = fixtureEnv("push.json", "push", maintainer, "refs/heads/main")
	sameRepoPR      = fixtureEnv("pull_request-same-repo.json", "pull_request", maintainer, "refs/pull/42/merge")
	forkPR          = fixtureEnv("pull_request-fork.json", "pull_request", outsider, "refs/pull/43/merge")
	forkPRTOpened   = fixtureEnv("pull_request-fork.json", "pull_request_target", outsider, "refs/heads/main")
	forkPRT         = fixtureEnv("pull_request_target-fork.json", "pull_request_target", outsider, "refs/heads/main")
	forkPRTLabeled  = fixtureEnv("pull_request_target-fork-labeled.json", "pull_request_target", maintainer, "refs/heads/main")
	forkPRTOther    = fixtureEnv("pull_request_target-fork-other-label.json", "pull_request_target", maintainer, "refs/heads/main")
	dispatchJob     = fixtureEnv("workflow_dispatch.json", "workflow_dispatch", maintainer, "refs/heads/main")
	workflowRunFork = fixtureEnv("workflow_run-fork.json", "workflow_run", outsider, "refs/heads/main")
)

const (
	labelMode = `
forks:
  pull_request_target: allow-with-label
`
	bothLabelModes = `
forks:
  pull_request: allow-with-label
  pull_request_target: allow-with-label
trusted-labels: [safe-to-test, ok-to-test]
`
	strict = `
repositories: [balena-os/*]
actors: [maintainer, "*-bot"]
workflows: ["balena-os/*/.github/workflows/leviathan-*.yml"]
trusted-actors: [alice]
forks:
  pull_request_target: allow-with-label
`
	otherOrg = `
repositories: [balena-io/*]
`
	dispatchOnly = `
events: [workflow_dispatch]
`
)

func TestDecide(t *testing.T) {
	example, err := Load("testdata/policy.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		allow          bool
		reason, advice string // substrings
	}
	for _, c := range []struct {
		name   string
		policy *Policy
		job    env
		want   want
	}{
		// The secure default.
		{"default/push", Default(), pushJob, want{true, "push in balena-os/balena-generic by maintainer", ""}},
		{"default/same-repo PR", Default(), sameRepoPR, want{true, "pull request #42 from balena-os/balena-generic itself", ""}},
		{"default/fork PR", Default(), forkPR, want{false,
			"pull_request for pull request #43 whose head is in the fork contributor/balena-generic, not balena-os/balena-generic: the policy refuses pull_request jobs from forks",
			"set forks.pull_request: allow-with-label in the runner's policy file (none is installed"}},
		{"default/fork PR advice dispatch", Default(), forkPR, want{false, "", "push it to a branch of balena-os/balena-generic and have a maintainer start the workflow there with workflow_dispatch"}},
		{"default/fork PRT opened", Default(), forkPRTOpened, want{false, "the policy refuses pull_request_target jobs from forks", `forks.pull_request_target: allow-with-label`}},
		{"default/fork PRT", Default(), forkPRT, want{false, "pull_request_target for pull request #43", `label reviewed pull requests "ok-to-test"`}},
		{"default/fork PRT labeled", Default(), forkPRTLabeled, want{false, "refuses pull_request_target jobs from forks", ""}},
		{"default/dispatch", Default(), dispatchJob, want{true, "workflow_dispatch in balena-os/balena-generic by maintainer", ""}},
		{"default/workflow_run fork", Default(), workflowRunFork, want{false,
			"workflow_run after a pull_request run whose head is in the fork contributor/balena-generic, not balena-os/balena-generic: the policy refuses jobs that follow runs of fork code",
			"push it to a branch of balena-os/balena-generic"}},

		// pull_request_target: allow-with-label (the ok-to-test mode).
		{"label/push", mustParse(t, labelMode), pushJob, want{true, "push", ""}},
		{"label/fork PR", mustParse(t, labelMode), forkPR, want{false, "refuses pull_request jobs from forks", "/etc/leviathan/policy.yaml"}},
		{"label/fork PRT opened", mustParse(t, labelMode), forkPRTOpened, want{false,
			`no trusted label (ok-to-test) is on it`,
			`review the changes up to `}},
		{"label/fork PRT unlabeled push", mustParse(t, labelMode), forkPRT, want{false, "no trusted label", `add the label "ok-to-test" to pull request #43`}},
		{"label/fork PRT labeled", mustParse(t, labelMode), forkPRTLabeled, want{true, `pull request #43 from fork contributor/balena-generic, approved with the label "ok-to-test"`, ""}},
		{"label/fork PRT other label", mustParse(t, labelMode), forkPRTOther, want{false, "no trusted label", ""}},
		{"label/workflow_run fork", mustParse(t, labelMode), workflowRunFork, want{false, "workflow_run", ""}},

		// Both modes, two trusted labels.
		{"both/fork PR", mustParse(t, bothLabelModes), forkPR, want{false, "no trusted label (safe-to-test, ok-to-test)", `"safe-to-test"`}},
		{"both/fork PRT labeled", mustParse(t, bothLabelModes), forkPRTLabeled, want{true, `"ok-to-test"`, ""}},

		// Allow lists.
		{"strict/push wrong workflow", mustParse(t, strict), pushJob, want{false,
			"workflow balena-os/balena-generic/.github/workflows/yocto-build-deploy.yml is not on the policy's workflows list",
			"add balena-os/balena-generic/.github/workflows/yocto-build-deploy.yml to workflows in /etc/leviathan/policy.yaml"}},
		{"strict/push allowed workflow", mustParse(t, strict),
			pushJob.with("GITHUB_WORKFLOW_REF", "Balena-OS/balena-generic/.github/workflows/leviathan-qemu.yml@refs/heads/main"),
			want{true, "push", ""}},
		{"strict/re-run by outsider", mustParse(t, strict),
			pushJob.with("GITHUB_WORKFLOW_REF", "balena-os/balena-generic/.github/workflows/leviathan-qemu.yml@refs/heads/main").with("GITHUB_TRIGGERING_ACTOR", "mallory"),
			want{false, "actor mallory is not on the policy's actors list", "add them to actors in /etc/leviathan/policy.yaml"}},
		{"strict/bot actor", mustParse(t, strict),
			pushJob.with("GITHUB_WORKFLOW_REF", "balena-os/balena-generic/.github/workflows/leviathan-qemu.yml@refs/heads/main").with("GITHUB_ACTOR", "renovate-bot").with("GITHUB_TRIGGERING_ACTOR", ""),
			want{true, "push", ""}},
		{"strict/dispatch by untrusted", mustParse(t, strict),
			dispatchJob.with("GITHUB_WORKFLOW_REF", "balena-os/balena-generic/.github/workflows/leviathan-dispatch.yml@refs/heads/main"),
			want{false, "workflow_dispatch by maintainer, who is not on the policy's trusted-actors list", "ask someone on trusted-actors (alice) to start it"}},
		{"strict/fork PRT labeled but labeler is not an actor", mustParse(t, strict),
			forkPRTLabeled.with("GITHUB_WORKFLOW_REF", "balena-os/balena-generic/.github/workflows/leviathan-qemu.yml@refs/heads/main").with("GITHUB_ACTOR", "carol").with("GITHUB_TRIGGERING_ACTOR", "carol"),
			want{false, "actor carol is not on the policy's actors list", ""}},
		{"otherOrg/push", mustParse(t, otherOrg), pushJob, want{false,
			"repository balena-os/balena-generic is not on the policy's repositories list",
			"if balena-os/balena-generic is trusted, add it to repositories in /etc/leviathan/policy.yaml"}},
		{"strict/no workflow ref", mustParse(t, strict), pushJob.with("GITHUB_WORKFLOW_REF", ""), want{false, "GITHUB_WORKFLOW_REF is not set", ""}},

		// Events.
		{"dispatchOnly/push", mustParse(t, dispatchOnly), pushJob, want{false,
			`event "push" is not on the policy's event list (workflow_dispatch)`,
			`add it to events in /etc/leviathan/policy.yaml`}},
		{"dispatchOnly/dispatch", mustParse(t, dispatchOnly), dispatchJob, want{true, "workflow_dispatch", ""}},
		{"default/unknown event", Default(), pushJob.with("GITHUB_EVENT_NAME", "release"), want{false, `event "release" is not on the policy's event list`, ""}},
		{"listed unknown event", mustParse(t, "events: [release]"), pushJob.with("GITHUB_EVENT_NAME", "release"), want{true, "release in balena-os/balena-generic", ""}},
		{"listed unknown event with a fork PR", mustParse(t, "events: [pull_request_review]"), forkPR.with("GITHUB_EVENT_NAME", "pull_request_review"), want{false,
			"pull_request_review event for pull request #43 whose head is in the fork", "pull_request_target with a trusted label"}},

		// The example file.
		{"example/fork PRT labeled", example, forkPRTLabeled, want{true, "ok-to-test", ""}},
		{"example/fork PR", example, forkPR, want{false, "refuses pull_request jobs from forks", "testdata/policy.example.yaml"}},
		{"example/push", example, pushJob, want{true, "push", ""}},
		{"example/dispatch by maintainer", example, dispatchJob, want{false, "not on the policy's trusted-actors list", "balena-ci, *-maintainer"}},
		{"example/dispatch by alex-maintainer", example, dispatchJob.with("GITHUB_ACTOR", "alex-maintainer").with("GITHUB_TRIGGERING_ACTOR", "alex-maintainer"), want{true, "workflow_dispatch", ""}},
		{"example/workflow_run", example, workflowRunFork, want{false, `event "workflow_run" is not on the policy's event list`, ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.policy.Decide(mustJob(t, c.job))
			if d.Allow != c.want.allow || !strings.Contains(d.Reason, c.want.reason) || !strings.Contains(d.Advice, c.want.advice) {
				t.Errorf("got %+v\nwant allow=%v, reason containing %q, advice containing %q", d, c.want.allow, c.want.reason, c.want.advice)
			}
			if d.Allow && d.Advice != "" {
				t.Errorf("allowed with advice %q", d.Advice)
			}
			if !d.Allow && d.Advice == "" {
				t.Errorf("refused without advice: %+v", d)
			}
			if strings.Contains(d.Reason, "\n") {
				t.Errorf("reason spans lines: %q", d.Reason)
			}
		})
	}
}

// editFixture writes a copy of a fixture with edit applied to its JSON.
func editFixture(t *testing.T, e env, edit func(map[string]any)) env {
	t.Helper()
	data, err := os.ReadFile(e["GITHUB_EVENT_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(name, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return e.with("GITHUB_EVENT_PATH", name)
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func TestDecideEdgeCases(t *testing.T) {
	label := mustParse(t, labelMode)
	for _, c := range []struct {
		name   string
		policy *Policy
		job    env
		edit   func(map[string]any)
		allow  bool
		reason string
	}{
		{"deleted fork", Default(), forkPR, func(m map[string]any) {
			obj(m, "pull_request", "head")["repo"] = nil
		}, false, "whose head repository is gone (a deleted fork)"},
		{"deleted fork, labelled", label, forkPRTLabeled, func(m map[string]any) {
			obj(m, "pull_request", "head")["repo"] = nil
		}, true, "approved with the label"},
		{"same name, other id", Default(), sameRepoPR, func(m map[string]any) {
			obj(m, "pull_request", "head", "repo")["id"] = 1
		}, false, "is in the fork balena-os/balena-generic"},
		{"same repository marked as a fork on one side", Default(), sameRepoPR, func(m map[string]any) {
			obj(m, "pull_request", "head", "repo")["fork"] = true
		}, false, "only one of head and base is marked as a fork"},
		{"a repository that is itself a fork, own branch", Default(), sameRepoPR, func(m map[string]any) {
			obj(m, "pull_request", "head", "repo")["fork"] = true
			obj(m, "pull_request", "base", "repo")["fork"] = true
		}, true, "from balena-os/balena-generic itself"},
		{"case differs", Default(), sameRepoPR, func(m map[string]any) {
			obj(m, "pull_request", "head", "repo")["full_name"] = "Balena-OS/Balena-Generic"
		}, true, "itself"},
		{"labeled event, label only in payload.label", label, forkPRTLabeled, func(m map[string]any) {
			obj(m, "pull_request")["labels"] = []any{}
		}, true, "ok-to-test"},
		{"unlabeled event does not count the removed label", label, forkPRTLabeled, func(m map[string]any) {
			m["action"] = "unlabeled"
			obj(m, "pull_request")["labels"] = []any{}
		}, false, "no trusted label"},
		{"label name must match exactly", label, forkPRTLabeled, func(m map[string]any) {
			obj(m, "label")["name"] = "OK-to-test"
			obj(m, "pull_request")["labels"] = []any{}
		}, false, "no trusted label"},
		{"payload of another repository", Default(), pushJob, func(m map[string]any) {
			obj(m, "repository")["full_name"] = "someone/else"
		}, false, "the event payload's repository someone/else is not GITHUB_REPOSITORY balena-os/balena-generic"},
		{"workflow_run from the repository", Default(), workflowRunFork, func(m map[string]any) {
			wr := obj(m, "workflow_run")
			wr["head_repository"] = wr["repository"]
		}, true, "workflow_run after a pull_request run in balena-os/balena-generic"},
		{"workflow_run with no head repository", Default(), workflowRunFork, func(m map[string]any) {
			obj(m, "workflow_run")["head_repository"] = nil
		}, false, "gone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.policy.Decide(mustJob(t, editFixture(t, c.job, c.edit)))
			if d.Allow != c.allow || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("got %+v\nwant allow=%v, reason containing %q", d, c.allow, c.reason)
			}
		})
	}
}

func TestDecideScheduleWithSmallPayload(t *testing.T) {
	name := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(name, []byte(`{"schedule": "17 3 * * *", "workflow": ".github/workflows/nightly.yml"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := Default().Decide(mustJob(t, pushJob.with("GITHUB_EVENT_NAME", "schedule").with("GITHUB_EVENT_PATH", name)))
	if !d.Allow {
		t.Fatal(d)
	}
}

func TestZeroPolicyRefusesForks(t *testing.T) {
	var p Policy
	if d := p.Decide(mustJob(t, forkPRTLabeled)); d.Allow {
		t.Fatalf("the zero policy allowed a fork: %v", d)
	}
	if d := p.Decide(mustJob(t, pushJob)); !d.Allow {
		t.Fatalf("the zero policy refused a push: %v", d)
	}
}

func TestDecideIncompleteJob(t *testing.T) {
	for _, event := range []string{"pull_request", "pull_request_target", "workflow_run"} {
		j := Job{Event: event, Repository: repo, Actor: outsider}
		d := Default().Decide(j)
		if d.Allow || !strings.Contains(d.Reason, "payload has no "+payloadObject(event)+" object") {
			t.Errorf("%s: %+v", event, d)
		}
	}
}

func TestDecisionString(t *testing.T) {
	d := Default().Decide(mustJob(t, forkPR))
	s := d.String()
	if !strings.HasPrefix(s, "policy: refused: pull_request for pull request #43") || !strings.Contains(s, "\npolicy: what a maintainer can do: ") {
		t.Errorf("String() = %q", s)
	}
	if s := Default().Decide(mustJob(t, pushJob)).String(); s != "policy: allowed: push in balena-os/balena-generic by maintainer" {
		t.Errorf("String() = %q", s)
	}
}

func TestJobFromEnv(t *testing.T) {
	j := mustJob(t, forkPRTLabeled)
	if j.Event != "pull_request_target" || j.Repository != repo || j.Actor != maintainer || j.RunID != "9876543211" ||
		j.Payload.Action != "labeled" || j.Payload.PullRequest.Number != 43 || j.Payload.Label.Name != "ok-to-test" ||
		j.Payload.PullRequest.Head.Repo.FullName != "contributor/balena-generic" || !j.Payload.PullRequest.Head.Repo.Fork {
		t.Errorf("%+v", j)
	}

	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		env  env
		want string
	}{
		{"no event path", pushJob.with("GITHUB_EVENT_PATH", ""), "policy: GITHUB_EVENT_PATH is not set"},
		{"no event name", pushJob.with("GITHUB_EVENT_NAME", ""), "policy: GITHUB_EVENT_NAME is not set"},
		{"no repository", pushJob.with("GITHUB_REPOSITORY", ""), "policy: GITHUB_REPOSITORY is not set"},
		{"missing file", pushJob.with("GITHUB_EVENT_PATH", filepath.Join(dir, "gone.json")), "policy: event payload (GITHUB_EVENT_PATH): open " + filepath.Join(dir, "gone.json") + ": no such file"},
		{"malformed", pushJob.with("GITHUB_EVENT_PATH", write("bad.json", `{"ref": `)), "policy: event payload " + filepath.Join(dir, "bad.json") + " (GITHUB_EVENT_PATH): unexpected end of JSON input"},
		{"empty", pushJob.with("GITHUB_EVENT_PATH", write("empty.json", " \n")), "empty.json (GITHUB_EVENT_PATH): empty"},
		{"array", pushJob.with("GITHUB_EVENT_PATH", write("array.json", `[]`)), "array.json (GITHUB_EVENT_PATH): not a JSON object"},
		{"wrong types", pushJob.with("GITHUB_EVENT_PATH", write("types.json", `{"repository": {"full_name": 7}}`)), "types.json (GITHUB_EVENT_PATH): json: cannot unmarshal number into Go struct field"},
		{"pull request without pull_request", forkPR.with("GITHUB_EVENT_PATH", write("push.json", `{"ref": "refs/heads/main"}`)), "push.json (GITHUB_EVENT_PATH): a pull_request event without a pull_request object"},
		{"workflow_run without workflow_run", workflowRunFork.with("GITHUB_EVENT_PATH", write("wr.json", `{}`)), "wr.json (GITHUB_EVENT_PATH): a workflow_run event without a workflow_run object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := JobFromEnv(c.env.get)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
