// Command table prints the rows the benchmarks recorded in one `make
// bench` run (package internal/benchrow) as one Markdown table.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/internal/benchrow"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/table ROWS-FILE\n\nprints the figures the benchmarks recorded (make bench sets "+benchrow.EnvFile+") as one table")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "table: %v (run make bench, which records the rows)\n", err)
		os.Exit(1)
	}
	defer f.Close()
	rows, err := benchrow.Read(f)
	if err == nil {
		err = benchrow.Print(os.Stdout, rows)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "table: %v\n", err)
		os.Exit(1)
	}
}
