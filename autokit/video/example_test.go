package video_test

import (
	"context"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/autokit/video"
)

// A boot splash check: compare a screenshot with the reference image the
// test suite keeps.
func ExampleSimilar() {
	screen, err := video.Open(os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	shot, err := screen.Screenshot(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	ref, err := os.ReadFile("testdata/splash.png")
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, d, err := video.Similar(shot, ref, video.DefaultMaxDistance)
	fmt.Println(ok, d, err)
}
