package policy

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balena/leviathan-action/internal/githubspec"
)

// eventsDir holds the webhook fixtures shared by the repository's tests.
const eventsDir = "../../testdata/events"

// fixtureSchemas reads the file → schema table from the fixtures' README.
func fixtureSchemas(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(eventsDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 {
			continue
		}
		file, schema := strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
		if strings.HasSuffix(file, ".json") {
			m[file] = schema
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFixturesMatchGitHubSchemas(t *testing.T) {
	schemas := fixtureSchemas(t)
	if len(schemas) == 0 {
		t.Fatal("no fixture rows in README.md")
	}
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := schemas[filepath.Base(f)]; !ok {
			t.Errorf("%s: no row in %s/README.md naming its schema", f, eventsDir)
		}
	}
	for file, schema := range schemas {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(eventsDir, file))
			if err != nil {
				t.Fatal(err)
			}
			if err := githubspec.ValidateWebhook(schema, data); err != nil {
				t.Fatal(err)
			}
		})
	}
}
