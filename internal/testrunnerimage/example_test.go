package testrunnerimage_test

import (
	"context"
	"fmt"
	"log"

	"github.com/balena/leviathan-action/internal/testrunnerimage"
)

// Build the testrunner image from a checkout and write it for `docker load`.
func ExampleBuild() {
	ctx := context.Background()
	img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: "."})
	if err != nil {
		log.Fatal(err)
	}
	if err := testrunnerimage.WriteTarball(img, "testrunner.tar", ""); err != nil {
		log.Fatal(err)
	}
}

// Serve the image from an in-process registry and pull it by digest.
func ExampleServe() {
	ctx := context.Background()
	img, err := testrunnerimage.Build(ctx, testrunnerimage.Options{RepoRoot: "."})
	if err != nil {
		log.Fatal(err)
	}
	reg, ref, err := testrunnerimage.Serve(ctx, img)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	fmt.Println(ref) // 127.0.0.1:PORT/leviathan/testrunner@sha256:…
}
