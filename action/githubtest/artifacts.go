package githubtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Artifact is a workflow artifact seeded with AddArtifact.
type Artifact struct {
	Name    string
	RunID   int64
	Zip     []byte // the archive served by the download redirect
	Expired bool   // downloads answer 410 Gone, as GitHub does
}

type artifact struct {
	Artifact
	id          int64
	owner, repo string
	created     time.Time
}

// AddArtifact stores an artifact of owner/repo and returns its id.
func (s *Server) AddArtifact(owner, repo string, a Artifact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.artifacts[id] = &artifact{Artifact: a, id: id, owner: owner, repo: repo, created: s.now()}
	return id
}

// ExpireArtifact marks an artifact expired.
func (s *Server) ExpireArtifact(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.artifacts[id]; ok {
		a.Expired = true
	}
}

func (s *Server) artifactJSON(a *artifact) map[string]any {
	api := fmt.Sprintf("%srepos/%s/%s/actions/artifacts/%d", s.URL, a.owner, a.repo, a.id)
	sum := sha256.Sum256(a.Zip)
	expires := a.created.Add(90 * 24 * time.Hour)
	if a.Expired {
		expires = a.created
	}
	return map[string]any{
		"id":                   a.id,
		"node_id":              fmt.Sprintf("MDg6QXJ0aWZhY3Q%d", a.id),
		"name":                 a.Name,
		"size_in_bytes":        len(a.Zip),
		"url":                  api,
		"archive_download_url": api + "/zip",
		"expired":              a.Expired,
		"created_at":           s.stamp(a.created),
		"expires_at":           s.stamp(expires),
		"updated_at":           s.stamp(a.created),
		"digest":               "sha256:" + hex.EncodeToString(sum[:]),
		"workflow_run":         map[string]any{"id": a.RunID, "repository_id": 1, "head_repository_id": 1},
	}
}

// listArtifacts serves the repository and run listings, newest first.
func (s *Server) listArtifacts(c *call) reply {
	name := c.r.URL.Query().Get("name")
	run := c.int64Param("run_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*artifact
	for _, a := range s.artifacts {
		if a.owner != c.params["owner"] || a.repo != c.params["repo"] {
			continue
		}
		if (name != "" && a.Name != name) || (c.op == "actions/list-workflow-run-artifacts" && a.RunID != run) {
			continue
		}
		list = append(list, a)
	}
	sortByIDDesc(list)
	out := jsonReply(http.StatusOK, nil)
	page := paginate(s, c, list, out.header)
	items := make([]map[string]any, 0, len(page))
	for _, a := range page {
		items = append(items, s.artifactJSON(a))
	}
	out.body = map[string]any{"total_count": len(list), "artifacts": items}
	return out
}

func sortByIDDesc(l []*artifact) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].id > l[j-1].id; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

func (s *Server) lookupArtifact(c *call) (*artifact, *reply) {
	a, ok := s.artifacts[c.int64Param("artifact_id")]
	if !ok || a.owner != c.params["owner"] || a.repo != c.params["repo"] {
		r := errorReply(http.StatusNotFound, "Not Found", "")
		return nil, &r
	}
	return a, nil
}

func (s *Server) getArtifact(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, rep := s.lookupArtifact(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, s.artifactJSON(a))
}

// downloadArtifact redirects to a one-off blob URL on the same server.
func (s *Server) downloadArtifact(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, rep := s.lookupArtifact(c)
	if rep != nil {
		return *rep
	}
	if c.params["archive_format"] != "zip" {
		return errorReply(http.StatusNotFound, "Not Found", "")
	}
	if a.Expired {
		return errorReply(http.StatusGone, "Artifact has expired", "")
	}
	b := make([]byte, 16)
	rand.Read(b)
	sig := hex.EncodeToString(b)
	s.blobSecrets[sig] = a.id
	h := http.Header{}
	h.Set("Location", fmt.Sprintf("%s%sartifacts/%d.zip?sig=%s", strings.TrimSuffix(s.URL, "/"), blobPrefix, a.id, sig))
	return reply{status: http.StatusFound, header: h}
}

// serveBlob serves an artifact's archive to a holder of its signed URL,
// without API credentials, like GitHub's blob storage.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id, ok := s.blobSecrets[r.URL.Query().Get("sig")]
	a := s.artifacts[id]
	s.mu.Unlock()
	if !ok || a == nil || r.URL.Path != fmt.Sprintf("%sartifacts/%d.zip", blobPrefix, id) {
		http.Error(w, "AuthenticationFailed", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Zip)))
	w.Write(a.Zip)
}

// Dispatch is a recorded workflow_dispatch request.
type Dispatch struct {
	Owner, Repo string
	Workflow    string // the workflow id or file name from the path
	Ref         string
	Inputs      map[string]any
}

// Dispatches returns the recorded workflow dispatches, oldest first.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Dispatch(nil), s.dispatches...)
}

func (s *Server) createDispatch(c *call) reply {
	var b struct {
		Ref              string         `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if err := c.decode(&b); err != nil {
		return errorReply(http.StatusBadRequest, err.Error(), "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dispatches = append(s.dispatches, Dispatch{
		Owner: c.params["owner"], Repo: c.params["repo"], Workflow: c.params["workflow_id"],
		Ref: b.Ref, Inputs: b.Inputs,
	})
	if !b.ReturnRunDetails {
		return reply{status: http.StatusNoContent}
	}
	id := s.newID()
	return jsonReply(http.StatusOK, map[string]any{
		"workflow_run_id": id,
		"run_url":         fmt.Sprintf("%srepos/%s/%s/actions/runs/%d", s.URL, c.params["owner"], c.params["repo"], id),
		"html_url":        fmt.Sprintf("%s%s/%s/actions/runs/%d", s.URL, c.params["owner"], c.params["repo"], id),
	})
}

// routes maps operation ids to their handlers.
func (s *Server) routes() map[string]handler {
	return map[string]handler{
		"checks/create":                         s.createCheckRun,
		"checks/update":                         s.updateCheckRun,
		"checks/get":                            s.getCheckRun,
		"checks/list-annotations":               s.listAnnotations,
		"checks/list-for-ref":                   s.listCheckRunsForRef,
		"actions/list-artifacts-for-repo":       s.listArtifacts,
		"actions/list-workflow-run-artifacts":   s.listArtifacts,
		"actions/get-artifact":                  s.getArtifact,
		"actions/download-artifact":             s.downloadArtifact,
		"actions/create-workflow-dispatch":      s.createDispatch,
		"apps/create-installation-access-token": s.createInstallationToken,
		"apps/get-repo-installation":            s.getRepoInstallation,
	}
}
