package githubtest

import (
	"fmt"
	"net/http"
	"time"
)

// CheckRun is a check run as the server holds it.
type CheckRun struct {
	ID          int64
	Owner, Repo string
	Name        string
	HeadSHA     string
	Status      string // queued, in_progress, completed
	Conclusion  string // empty until completed
	DetailsURL  string
	ExternalID  string
	Title       string
	Summary     string
	Text        string
	StartedAt   time.Time
	CompletedAt time.Time
	Annotations []Annotation // appended across updates, as GitHub does
	Updates     int          // update calls applied
}

// Annotation is one check-run annotation.
type Annotation struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	EndLine     int    `json:"end_line"`
	StartColumn *int   `json:"start_column,omitempty"`
	EndColumn   *int   `json:"end_column,omitempty"`
	Level       string `json:"annotation_level"`
	Message     string `json:"message"`
	Title       string `json:"title,omitempty"`
	RawDetails  string `json:"raw_details,omitempty"`
}

// checkRunBody is the body of checks/create and checks/update.
type checkRunBody struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string      `json:"title"`
		Summary     *string      `json:"summary"`
		Text        *string      `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// CheckRuns returns copies of the check runs, oldest first.
func (s *Server) CheckRuns() []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckRun, 0, len(s.checkOrder))
	for _, id := range s.checkOrder {
		out = append(out, s.checkRuns[id].clone())
	}
	return out
}

// CheckRun returns a copy of the check run with the given id.
func (s *Server) CheckRun(id int64) (CheckRun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr, ok := s.checkRuns[id]
	if !ok {
		return CheckRun{}, false
	}
	return cr.clone(), true
}

func (cr *CheckRun) clone() CheckRun {
	c := *cr
	c.Annotations = append([]Annotation(nil), cr.Annotations...)
	return c
}

func (s *Server) applyCheckRun(cr *CheckRun, b *checkRunBody) *reply {
	if b.Name != nil {
		cr.Name = *b.Name
	}
	if b.DetailsURL != nil {
		cr.DetailsURL = *b.DetailsURL
	}
	if b.ExternalID != nil {
		cr.ExternalID = *b.ExternalID
	}
	if b.Status != nil {
		cr.Status = *b.Status
	}
	if b.Conclusion != nil {
		// Providing a conclusion sets the status to completed.
		cr.Conclusion, cr.Status = *b.Conclusion, "completed"
	}
	if b.StartedAt != nil {
		if t, err := time.Parse(time.RFC3339, *b.StartedAt); err == nil {
			cr.StartedAt = t
		}
	}
	if b.CompletedAt != nil {
		if t, err := time.Parse(time.RFC3339, *b.CompletedAt); err == nil {
			cr.CompletedAt = t
		}
	}
	if cr.Status == "completed" && cr.Conclusion == "" {
		r := errorReply(http.StatusUnprocessableEntity, "Invalid request.\n\nconclusion is required when status is completed.", "")
		return &r
	}
	if cr.Status == "completed" && cr.CompletedAt.IsZero() {
		cr.CompletedAt = s.now()
	}
	if o := b.Output; o != nil {
		if o.Title != nil {
			cr.Title = *o.Title
		}
		if o.Summary != nil {
			cr.Summary = *o.Summary
		}
		if o.Text != nil {
			cr.Text = *o.Text
		}
		cr.Annotations = append(cr.Annotations, o.Annotations...)
	}
	return nil
}

func (s *Server) createCheckRun(c *call) reply {
	var b checkRunBody
	if err := c.decode(&b); err != nil {
		return errorReply(http.StatusBadRequest, err.Error(), "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := &CheckRun{
		ID: s.newID(), Owner: c.params["owner"], Repo: c.params["repo"],
		HeadSHA: b.HeadSHA, Status: "queued", StartedAt: s.now(),
	}
	if rep := s.applyCheckRun(cr, &b); rep != nil {
		return *rep
	}
	s.checkRuns[cr.ID] = cr
	s.checkOrder = append(s.checkOrder, cr.ID)
	return jsonReply(http.StatusCreated, s.checkRunJSON(cr))
}

func (s *Server) lookupCheckRun(c *call) (*CheckRun, *reply) {
	cr, ok := s.checkRuns[c.int64Param("check_run_id")]
	if !ok || cr.Owner != c.params["owner"] || cr.Repo != c.params["repo"] {
		r := errorReply(http.StatusNotFound, "Not Found", "")
		return nil, &r
	}
	return cr, nil
}

func (s *Server) updateCheckRun(c *call) reply {
	var b checkRunBody
	if err := c.decode(&b); err != nil {
		return errorReply(http.StatusBadRequest, err.Error(), "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cr, rep := s.lookupCheckRun(c)
	if rep != nil {
		return *rep
	}
	next := cr.clone()
	if rep := s.applyCheckRun(&next, &b); rep != nil {
		return *rep
	}
	next.Updates++
	*cr = next
	return jsonReply(http.StatusOK, s.checkRunJSON(cr))
}

func (s *Server) getCheckRun(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr, rep := s.lookupCheckRun(c)
	if rep != nil {
		return *rep
	}
	return jsonReply(http.StatusOK, s.checkRunJSON(cr))
}

func (s *Server) listAnnotations(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr, rep := s.lookupCheckRun(c)
	if rep != nil {
		return *rep
	}
	out := jsonReply(http.StatusOK, nil)
	page := paginate(s, c, cr.Annotations, out.header)
	list := make([]map[string]any, 0, len(page))
	for _, a := range page {
		list = append(list, map[string]any{
			"path":             a.Path,
			"blob_href":        fmt.Sprintf("%s%s/%s/blob/%s/%s", s.URL, cr.Owner, cr.Repo, cr.HeadSHA, a.Path),
			"start_line":       a.StartLine,
			"end_line":         a.EndLine,
			"start_column":     a.StartColumn,
			"end_column":       a.EndColumn,
			"annotation_level": a.Level,
			"title":            nullable(a.Title),
			"message":          a.Message,
			"raw_details":      nullable(a.RawDetails),
		})
	}
	out.body = list
	return out
}

func (s *Server) listCheckRunsForRef(c *call) reply {
	q := c.r.URL.Query()
	ref, name, status := c.params["ref"], q.Get("check_name"), q.Get("status")
	latest := q.Get("filter") != "all"
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []*CheckRun
	seen := map[string]bool{}
	for i := len(s.checkOrder) - 1; i >= 0; i-- { // newest first, as GitHub lists them
		cr := s.checkRuns[s.checkOrder[i]]
		if cr.Owner != c.params["owner"] || cr.Repo != c.params["repo"] || cr.HeadSHA != ref {
			continue
		}
		if (name != "" && cr.Name != name) || (status != "" && cr.Status != status) {
			continue
		}
		if latest && seen[cr.Name] {
			continue
		}
		seen[cr.Name] = true
		runs = append(runs, cr)
	}
	out := jsonReply(http.StatusOK, nil)
	page := paginate(s, c, runs, out.header)
	list := make([]map[string]any, 0, len(page))
	for _, cr := range page {
		list = append(list, s.checkRunJSON(cr))
	}
	out.body = map[string]any{"total_count": len(runs), "check_runs": list}
	return out
}

func (s *Server) checkRunJSON(cr *CheckRun) map[string]any {
	api := fmt.Sprintf("%srepos/%s/%s/check-runs/%d", s.URL, cr.Owner, cr.Repo, cr.ID)
	return map[string]any{
		"id":           cr.ID,
		"node_id":      fmt.Sprintf("CR_%d", cr.ID),
		"head_sha":     cr.HeadSHA,
		"name":         cr.Name,
		"url":          api,
		"html_url":     fmt.Sprintf("%s%s/%s/runs/%d", s.URL, cr.Owner, cr.Repo, cr.ID),
		"details_url":  nullable(cr.DetailsURL),
		"status":       cr.Status,
		"conclusion":   nullable(cr.Conclusion),
		"started_at":   s.stamp(cr.StartedAt),
		"completed_at": s.stamp(cr.CompletedAt),
		"external_id":  nullable(cr.ExternalID),
		"check_suite":  map[string]any{"id": 1},
		"output": map[string]any{
			"title":             nullable(cr.Title),
			"summary":           nullable(cr.Summary),
			"text":              nullable(cr.Text),
			"annotations_count": len(cr.Annotations),
			"annotations_url":   api + "/annotations",
		},
		"app":           nil,
		"pull_requests": []any{},
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
