package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxEventSize bounds the event payloads JobFromEnv reads; GitHub caps
// webhook payloads at 25 MB.
const MaxEventSize = 25 << 20

// Job is what the gate knows about a job: the runner's GITHUB_*
// variables and the parts of the event payload it decides on.
type Job struct {
	Event           string // GITHUB_EVENT_NAME
	Repository      string // GITHUB_REPOSITORY, owner/name
	Actor           string // GITHUB_ACTOR
	TriggeringActor string // GITHUB_TRIGGERING_ACTOR; differs from Actor on re-runs
	WorkflowRef     string // GITHUB_WORKFLOW_REF, owner/name/path@ref
	RunID           string // GITHUB_RUN_ID
	JobID           string // GITHUB_JOB
	Ref             string // GITHUB_REF
	HeadRef         string // GITHUB_HEAD_REF
	BaseRef         string // GITHUB_BASE_REF
	EventPath       string // GITHUB_EVENT_PATH
	Payload         Payload
}

// Payload holds the fields of a webhook payload the gate reads. Field
// names follow GitHub's JSON.
type Payload struct {
	Action      string       `json:"action"`
	Repository  *Repository  `json:"repository"`
	Sender      *User        `json:"sender"`
	PullRequest *PullRequest `json:"pull_request"`
	// Label is the label just added or removed, on labeled and unlabeled
	// events.
	Label       *Label       `json:"label"`
	WorkflowRun *WorkflowRun `json:"workflow_run"`
}

// Repository is a repository in a payload.
type Repository struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
	Fork     bool   `json:"fork"`
}

// User is an account in a payload.
type User struct {
	Login string `json:"login"`
}

// Label is a pull request label.
type Label struct {
	Name string `json:"name"`
}

// PullRequest is payload.pull_request.
type PullRequest struct {
	Number int     `json:"number"`
	Head   Branch  `json:"head"`
	Base   Branch  `json:"base"`
	Labels []Label `json:"labels"`
	User   *User   `json:"user"`
}

// Branch is a pull request's head or base. Repo is nil when the head's
// repository (a fork) was deleted.
type Branch struct {
	Ref  string      `json:"ref"`
	SHA  string      `json:"sha"`
	Repo *Repository `json:"repo"`
}

// WorkflowRun is payload.workflow_run: the run that triggered a
// workflow_run event.
type WorkflowRun struct {
	Event          string      `json:"event"`
	HeadBranch     string      `json:"head_branch"`
	HeadSHA        string      `json:"head_sha"`
	HeadRepository *Repository `json:"head_repository"`
	Repository     *Repository `json:"repository"`
}

// JobFromEnv builds a Job from the runner's environment, reading the event
// payload named by GITHUB_EVENT_PATH. GITHUB_EVENT_NAME, GITHUB_EVENT_PATH,
// GITHUB_REPOSITORY and GITHUB_ACTOR must be set; errors name the variable
// or the file.
func JobFromEnv(getenv func(string) string) (Job, error) {
	j := Job{
		Event:           getenv("GITHUB_EVENT_NAME"),
		Repository:      getenv("GITHUB_REPOSITORY"),
		Actor:           getenv("GITHUB_ACTOR"),
		TriggeringActor: getenv("GITHUB_TRIGGERING_ACTOR"),
		WorkflowRef:     getenv("GITHUB_WORKFLOW_REF"),
		RunID:           getenv("GITHUB_RUN_ID"),
		JobID:           getenv("GITHUB_JOB"),
		Ref:             getenv("GITHUB_REF"),
		HeadRef:         getenv("GITHUB_HEAD_REF"),
		BaseRef:         getenv("GITHUB_BASE_REF"),
		EventPath:       getenv("GITHUB_EVENT_PATH"),
	}
	for _, v := range []struct{ name, value string }{
		{"GITHUB_EVENT_NAME", j.Event},
		{"GITHUB_EVENT_PATH", j.EventPath},
		{"GITHUB_REPOSITORY", j.Repository},
		{"GITHUB_ACTOR", j.Actor},
	} {
		if v.value == "" {
			return Job{}, fmt.Errorf("policy: %s is not set; is this running as the runner's job-started hook?", v.name)
		}
	}
	data, err := readEvent(j.EventPath)
	if err != nil {
		return Job{}, err
	}
	pl, err := parsePayload(j.Event, data)
	if err != nil {
		return Job{}, fmt.Errorf("policy: event payload %s (GITHUB_EVENT_PATH): %w", j.EventPath, err)
	}
	j.Payload = pl
	return j, nil
}

func readEvent(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("policy: event payload (GITHUB_EVENT_PATH): %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxEventSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: event payload (GITHUB_EVENT_PATH): %w", err)
	}
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("policy: event payload %s (GITHUB_EVENT_PATH): larger than %d bytes", name, MaxEventSize)
	}
	return data, nil
}

// errNotObject is returned for payloads that are JSON but not an object.
var errNotObject = errors.New("not a JSON object")

// parsePayload decodes the fields the gate needs and checks that the
// objects the event's checks rely on are there.
func parsePayload(event string, data []byte) (Payload, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Payload{}, errors.New("empty")
	}
	if trimmed[0] != '{' {
		return Payload{}, errNotObject
	}
	var pl Payload
	if err := json.Unmarshal(trimmed, &pl); err != nil {
		return Payload{}, err
	}
	switch {
	case (event == "pull_request" || event == "pull_request_target") && pl.PullRequest == nil:
		return Payload{}, fmt.Errorf("a %s event without a pull_request object", event)
	case event == "workflow_run" && pl.WorkflowRun == nil:
		return Payload{}, fmt.Errorf("a %s event without a workflow_run object", event)
	}
	return pl, nil
}
