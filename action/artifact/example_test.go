package artifact_test

import (
	"context"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/action/artifact"
)

// A job step uploads a report and a later step of the same run extracts
// it again.
func Example() {
	ctx := context.Background()
	c, err := artifact.NewFromEnv() // ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := os.Open("report.xml")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	a, err := c.Upload(ctx, "junit", artifact.File{Name: "report.xml", Reader: f, Compress: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("artifact", a.ID, a.Digest)

	if _, err := c.Extract(ctx, "junit", "report.xml", os.Stdout); err != nil {
		fmt.Println(err)
	}
}
