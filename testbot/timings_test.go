package testbot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The boot's stages are found in the console as it arrives, in pieces.
func TestBootMarks(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		chunks                []string // one per poll, 1 s apart
		firmware, kernel, usr time.Duration
	}{
		{
			name: "UEFI, a Debian kernel, init",
			chunks: []string{"", "BdsDxe: starting Boot0001\r\n", "[    0.000000] Linux version 6.1.0-57-amd64 (debian",
				"-kernel@…)\n[ 0.1] …\n", "[    1.799861] Run /init as init process\n"},
			firmware: 2 * time.Second, kernel: 3 * time.Second, usr: 5 * time.Second,
		},
		{
			name:     "a line cut between two reads",
			chunks:   []string{"U-Boot 2024\n[ 0.0] Linux ver", "sion 6.6.1\n[ 2.0] systemd[1]: Started"},
			firmware: time.Second, kernel: 2 * time.Second, usr: 2 * time.Second,
		},
		{
			name:     "a console that shows only the OS",
			chunks:   []string{"", "", "login: "},
			firmware: 3 * time.Second,
		},
		{name: "a silent console", chunks: []string{"", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tm Timings
			m := &bootMarks{t: &tm}
			for i, c := range tc.chunks {
				m.saw([]byte(c), time.Duration(i+1)*time.Second)
			}
			if tm.BootFirmware != tc.firmware || tm.BootKernel != tc.kernel || tm.BootUserspace != tc.usr {
				t.Errorf("firmware %v kernel %v userspace %v; want %v %v %v", tm.BootFirmware, tm.BootKernel, tm.BootUserspace, tc.firmware, tc.kernel, tc.usr)
			}
		})
	}
}

func TestTimingsLineAndJSON(t *testing.T) {
	tm := Timings{Lease: 100 * time.Millisecond, Flash: 2 * time.Second, Boot: 20 * time.Second,
		BootFirmware: 250 * time.Millisecond, BootKernel: 9 * time.Second, BootUserspace: 14 * time.Second,
		Suites: 60 * time.Second, Total: 83 * time.Second}
	want := "lease 0.1s, flash 2.0s, boot 20.0s (firmware 0.2s → kernel 9.0s → userspace 14.0s → SSH 20.0s), suites 60.0s, total 83.0s"
	if got := tm.String(); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
	if got := (Timings{Boot: time.Second}).String(); strings.Contains(got, "→") {
		t.Errorf("a boot without marks shows arrows: %s", got)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"passed": 3, "tests": []}`), 0o644)
	if err := addTimings(dir, tm); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	var got struct {
		Passed  int                `json:"passed"`
		Timings map[string]float64 `json:"timings"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Passed != 3 || got.Timings["boot"] != 20 || got.Timings["boot_kernel"] != 9 || got.Timings["total"] != 83 {
		t.Errorf("summary.json = %s", b)
	}
}
