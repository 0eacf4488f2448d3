// Command prog is the program inside the container package's test images.
// Its first argument picks what it does:
//
//	report CODE      print testrunner-like progress, write /reports, exit CODE
//	noreport CODE    print a line and exit CODE without reports
//	oom              allocate memory until killed
//	sleep            print "sleeping" and sleep
//	probe ADDR...    GET $LEVIATHAN_WORKER_URL, dial each ADDR, print results
//	exec PATH ARG... try to write beside PATH, then run PATH with ARGs
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	code := 0
	if len(os.Args) > 2 {
		code, _ = strconv.Atoi(os.Args[2])
	}
	switch os.Args[1] {
	case "report":
		report(code)
	case "noreport":
		fmt.Println("crashing before reports")
		os.Exit(code)
	case "oom":
		var keep [][]byte
		for {
			b := make([]byte, 8<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
			fmt.Println("allocated MiB", len(keep)*8)
		}
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Hour)
	case "probe":
		probe(os.Args[2:])
	case "exec":
		run(os.Args[2], os.Args[2:])
	}
}

func report(code int) {
	fmt.Println("suite demo")
	fmt.Println("  ▶ TestA")
	fmt.Println("  ✓ TestA (0.00s)")
	fmt.Println("  ▶ TestB")
	fmt.Println("  ✗ TestB (0.00s)")
	fmt.Println("      b_test.go:1: boom")
	fmt.Println("::warning::injected")
	fmt.Println("1 passed, 1 failed, 0 skipped")
	fmt.Fprintln(os.Stderr, "to stderr")
	fmt.Println("uid", os.Getuid(), "gid", os.Getgid())
	fmt.Println("etc write:", result(os.WriteFile("/etc/x", []byte("x"), 0o644)))
	fmt.Println("tmp write:", result(os.WriteFile("/tmp/x", []byte("x"), 0o644)))
	os.MkdirAll("/reports/tests/demo", 0o755)
	os.WriteFile("/reports/tests/demo/TestA.log", []byte("log of A\n"), 0o644)
	if err := os.WriteFile("/reports/junit.xml", []byte("<testsuites></testsuites>\n"), 0o644); err != nil {
		fmt.Println("reports write:", err)
	}
	os.Exit(code)
}

// run tries to write into the directory of path, then replaces this
// process with path.
func run(path string, args []string) {
	fmt.Println("suites dir write:", result(os.WriteFile(filepath.Join(filepath.Dir(path), "x"), []byte("x"), 0o755)))
	err := syscall.Exec(path, args, os.Environ())
	fmt.Println("exec:", result(err))
	os.Exit(3)
}

func result(err error) string {
	if err != nil {
		return "fail: " + err.Error()
	}
	return "ok"
}

func probe(addrs []string) {
	if u := os.Getenv("LEVIATHAN_WORKER_URL"); u != "" {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(u + "/health")
		if err != nil {
			fmt.Println("worker:", "fail:", err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Printf("worker: ok: %s\n", b)
		}
	}
	for _, a := range addrs {
		shown := a
		// gw:PORT is PORT on the worker's (the gateway's) address.
		if port, ok := strings.CutPrefix(a, "gw:"); ok {
			u, _ := url.Parse(os.Getenv("LEVIATHAN_WORKER_URL"))
			a = net.JoinHostPort(u.Hostname(), port)
		}
		c, err := net.DialTimeout("tcp", a, 3*time.Second)
		if err != nil {
			fmt.Println("dial", shown+":", "fail:", err)
			continue
		}
		c.Close()
		fmt.Println("dial", shown+":", "ok")
	}
}
