package submit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/balena/leviathan-action/action/submit"
)

// The action's submit mode on a GitHub-hosted runner.
func Example() {
	res, err := submit.FromEnv(context.Background(), "build/balena.img", submit.Options{
		ArtifactName: "balena-image",
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for k, v := range res.Outputs() {
		fmt.Printf("%s=%s\n", k, v)
	}
}
