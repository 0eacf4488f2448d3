package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Runner is a just-in-time self-hosted runner registered with the server
// (actions/generate-runner-jitconfig-for-repo or -for-org).
type Runner struct {
	ID int64
	// Owner and Repo name a repository's runner; Org an organisation's.
	Owner, Repo, Org string
	Name             string
	GroupID          int64
	Labels           []string
	WorkFolder       string
	// JITConfig is the encoded configuration the server answered with: a
	// base64 JSON object of base64 files, as GitHub's is, holding
	// ".runner" with the runner's name and id.
	JITConfig string
}

// Runners returns the registered runners, oldest first.
func (s *Server) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Runner, len(s.runners))
	for i, r := range s.runners {
		out[i] = *r
		out[i].Labels = append([]string(nil), r.Labels...)
	}
	return out
}

// runnerRoutes maps the runner operations to their handlers.
func (s *Server) runnerRoutes() map[string]handler {
	return map[string]handler{
		"actions/generate-runner-jitconfig-for-repo": s.generateJITConfig,
		"actions/generate-runner-jitconfig-for-org":  s.generateJITConfig,
	}
}

func (s *Server) generateJITConfig(c *call) reply {
	var b struct {
		Name          string   `json:"name"`
		RunnerGroupID int64    `json:"runner_group_id"`
		Labels        []string `json:"labels"`
		WorkFolder    string   `json:"work_folder"`
	}
	if err := c.decode(&b); err != nil {
		return errorReply(http.StatusBadRequest, err.Error(), "")
	}
	r := &Runner{Owner: c.params["owner"], Repo: c.params["repo"], Org: c.params["org"],
		Name: b.Name, GroupID: b.RunnerGroupID, Labels: b.Labels, WorkFolder: b.WorkFolder}
	if r.WorkFolder == "" {
		r.WorkFolder = "_work"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.runners {
		if o.Owner == r.Owner && o.Repo == r.Repo && o.Org == r.Org && strings.EqualFold(o.Name, r.Name) {
			return errorReply(http.StatusConflict, "Already exists - A runner with the name "+r.Name+" already exists.", "")
		}
	}
	r.ID = s.newID()
	file := func(v any) string {
		j, _ := json.Marshal(v)
		return base64.StdEncoding.EncodeToString(j)
	}
	files, _ := json.Marshal(map[string]string{
		".runner":                file(map[string]any{"agentId": r.ID, "agentName": r.Name, "poolId": r.GroupID, "workFolder": r.WorkFolder, "ephemeral": true, "serverUrl": s.URL}),
		".credentials":           file(map[string]any{"scheme": "OAuth", "data": map[string]string{"clientId": fmt.Sprintf("client-%d", r.ID)}}),
		".credentials_rsaparams": file(map[string]string{"d": "githubtest", "modulus": fmt.Sprintf("runner-%d", r.ID)}),
	})
	r.JITConfig = base64.StdEncoding.EncodeToString(files)
	s.runners = append(s.runners, r)
	labels := []map[string]any{}
	for i, l := range r.Labels {
		labels = append(labels, map[string]any{"id": i + 1, "name": l, "type": "custom"})
	}
	return jsonReply(http.StatusCreated, map[string]any{
		"runner": map[string]any{
			"id": r.ID, "name": r.Name, "os": "unknown", "status": "offline", "busy": false,
			"ephemeral": true, "runner_group_id": r.GroupID, "labels": labels,
		},
		"encoded_jit_config": r.JITConfig,
	})
}
