package testrunner_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/docker/docker/client"

	"github.com/balena/leviathan-action/autokit/testrunner"
)

// Pull the testrunner by digest and run the suites against a worker on the
// host's loopback.
func ExampleRun() {
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		log.Fatal(err)
	}
	ref := "127.0.0.1:5000/leviathan/testrunner@sha256:…"
	if _, err := testrunner.Pull(ctx, cli, ref, os.Stderr); err != nil {
		log.Fatal(err)
	}
	defer testrunner.Cleanup(context.Background(), cli, testrunner.JobLabels("run-1", "", ""))
	res, err := testrunner.Run(ctx, cli, testrunner.Spec{
		Image:      ref,
		WorkerURL:  "http://127.0.0.1:8080",
		RunID:      "run-1",
		Job:        "os / generic-amd64",
		ReportsDir: "reports",
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		GroupTests: true,
	})
	switch {
	case err != nil:
		log.Fatal(err)
	case res.InfraError != nil:
		log.Fatal(res.InfraError)
	}
	fmt.Println("passed:", res.Passed())
}
