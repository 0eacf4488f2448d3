package report_test

import (
	"context"
	"log"
	"os"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/balena/leviathan-action/action/report"
)

// Wiring the report mode in an action step: a GitHub App when its key is
// given, GITHUB_TOKEN otherwise.
func Example() {
	ctx := context.Background()
	action := githubactions.New()
	owner, repo, _ := strings.Cut(os.Getenv("GITHUB_REPOSITORY"), "/")
	key := action.GetInput("app-private-key")
	cfg := report.ClientConfig{BaseURL: os.Getenv("GITHUB_API_URL")}
	gh, err := report.NewTokenClient(action.GetInput("token"), cfg)
	if key != "" {
		gh, err = report.NewAppClient(ctx, report.App{
			ID: 12345, Owner: owner, Repo: repo,
			PrivateKey: []byte(key), KeySource: "the app-private-key input",
		}, cfg)
	}
	if err != nil {
		log.Fatal(err)
	}
	res, err := report.ParseFile("reports/junit.xml")
	if err != nil {
		log.Fatal(err)
	}
	out, err := report.New(gh, action, report.Config{
		Owner: owner, Repo: repo, HeadSHA: os.Getenv("GITHUB_SHA"),
		DeviceType: "raspberrypi4-64", SourceDir: "tests/suites/{suite}",
		Workspace: os.Getenv("GITHUB_WORKSPACE"), LogDir: "reports",
		Secrets: []string{key, action.GetInput("token")},
	}).Report(ctx, res)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d failed", out.Conclusion, out.Failed)
}
