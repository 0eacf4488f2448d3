//go:build ignore

package main

import (
	"fmt"
	"os"

	"github.com/balena/leviathan-action/internal/githubspec"
)

func main() {
	b, _ := os.ReadFile(os.Args[2])
	fmt.Println(githubspec.ValidateWebhook(os.Args[1], b))
}
