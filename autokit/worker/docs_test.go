package worker_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/worker"
)

// apiDoc is the API's documentation, relative to this package.
const apiDoc = "../../docs/worker-api.md"

// docTable returns the cells of the Markdown table in section (a "## "
// heading) of the document, without the header and separator rows.
func docTable(t *testing.T, section string) [][]string {
	t.Helper()
	f, err := os.Open(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## "+section
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		var cells []string
		for c := range strings.SplitSeq(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.Trim(strings.TrimSpace(c), "`"))
		}
		rows = append(rows, cells)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("%s has no table under ## %s", apiDoc, section)
	}
	return rows[2:]
}

// TestDocumentedRoutes keeps docs/worker-api.md's endpoint table equal to
// the routes the worker serves, and every endpoint the page names one the
// worker serves.
func TestDocumentedRoutes(t *testing.T) {
	served := worker.Routes()
	var documented []worker.Route
	for _, row := range docTable(t, "Endpoints") {
		if len(row) != 3 {
			t.Fatalf("endpoint row %q: want method, path, credential", row)
		}
		documented = append(documented, worker.Route{Method: row[0], Path: row[1], Access: worker.Access(row[2])})
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s (credential %s) is served but not in the endpoint table of %s", r, r.Access, apiDoc)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("%s (credential %s) is in the endpoint table of %s but the worker does not serve it so", r, r.Access, apiDoc)
		}
	}

	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`(GET|POST|PUT|DELETE) (/v1/[^`?\\s]*)")
	for _, m := range named.FindAllStringSubmatch(string(doc), -1) {
		if !slices.ContainsFunc(served, func(r worker.Route) bool { return r.Method == m[1] && r.Path == m[2] }) {
			t.Errorf("%s names %s %s, which the worker does not serve", apiDoc, m[1], m[2])
		}
	}
}

// TestDocumentedErrorCodes keeps docs/worker-api.md's error table equal to
// api.ErrorCodes, statuses included.
func TestDocumentedErrorCodes(t *testing.T) {
	documented := map[api.ErrorCode]int{}
	for _, row := range docTable(t, "Errors") {
		if len(row) != 4 || row[2] == "" || row[3] == "" {
			t.Fatalf("error row %q: want code, status, meaning, what a client does", row)
		}
		status, err := strconv.Atoi(row[1])
		if err != nil {
			t.Fatalf("error row %q: status: %v", row, err)
		}
		documented[api.ErrorCode(row[0])] = status
	}
	codes := api.ErrorCodes()
	for _, c := range codes {
		switch st, ok := documented[c]; {
		case !ok:
			t.Errorf("code %s is not in the error table of %s", c, apiDoc)
		case st != c.Status():
			t.Errorf("code %s: %s says status %d, the API answers %d", c, apiDoc, st, c.Status())
		}
	}
	for c := range documented {
		if !slices.Contains(codes, c) {
			t.Errorf("%s documents code %s, which is not one of api.ErrorCodes", apiDoc, c)
		}
	}
}
