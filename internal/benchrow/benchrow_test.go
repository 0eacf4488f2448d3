package benchrow

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecordReadPrint(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := Record(Row{What: "not recorded"}); err != nil {
		t.Fatalf("without %s: %v", EnvFile, err)
	}
	t.Setenv(EnvFile, p)
	rows := []Row{
		{What: "exec: one command", Leviathan: "9.7 ms", Baseline: "ssh ControlMaster 17.1 ms", Result: "0.57×", Spread: "0.5/0.57/0.7×", Target: "≤ 1.2×", Met: Judge(true)},
		{What: "run overhead", Leviathan: "12.1 s", Baseline: "raw QEMU 11.6 s", Result: "+0.52 s", Target: "≤ +0.5 s", Met: Judge(false)},
		{What: "a|b", Leviathan: "1"},
	}
	for _, r := range rows {
		if err := Record(r); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Read(f)
	if err != nil || len(got) != 3 || *got[1].Met || got[2].Met != nil {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	var out bytes.Buffer
	if err := Print(&out, got); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[1], "| ---") || lines[len(lines)-1] != "1 targets met, 1 missed, 3 rows" {
		t.Fatalf("table:\n%s", out.String())
	}
	for _, l := range lines[:5] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Errorf("columns not aligned:\n%s", out.String())
			break
		}
	}
	if !strings.Contains(out.String(), "| a/b ") || !strings.Contains(out.String(), "| NO ") {
		t.Errorf("table:\n%s", out.String())
	}
	if _, err := Read(strings.NewReader("{broken\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a broken line: %v", err)
	}
}
