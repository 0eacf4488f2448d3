package htmlreport

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"time"
)

// t0 is the synthetic runs' start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// screenPNG is a real PNG of w×h: a test card with a coloured band, as a
// DUT's screen might show.
func screenPNG(w, h int, band color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 96, 255}
			if y > h/3 && y < h/2 {
				c = band
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img) // an in-memory RGBA image always encodes
	return b.Bytes()
}

// synthetic is a small failed run: two suites with passes, failures, a
// skip and subtests; a failure's screenshot and one a suite took; flash
// samples, boot marks, power events (a power cut inside a test) and a
// console with each test's lines.
func synthetic() *Data {
	d := &Data{
		Title:   "leviathan run — qemu-x86_64",
		Started: t0,
		OK:      false,
		Facts: []Fact{
			{Name: "image", Value: "leviathan-testos.img"},
			{Name: "sha256", Value: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Mono: true},
			{Name: "size", Value: "512 MiB"},
			{Name: "worker", Value: "http://127.0.0.1:8910 (leviathan run)"},
			{Name: "DUT", Value: "qemu-x86_64"},
			{Name: "capabilities", Value: "power, storage, serial, network, screen, keyboard"},
			{Name: "device type", Value: "generic-amd64"},
			{Name: "versions", Value: "leviathan v0.9.0, worker v0.9.0"},
			{Name: "timings", Value: "lease 0.2s, flash 38.0s, boot 29.0s, suites 120.0s"},
			{Name: "reproduce", Value: "leviathan run --image leviathan-testos.img --suite os --suite hw", Mono: true},
		},
		Stages: []Span{
			{Name: "lease", Start: at(0), End: at(200)},
			{Name: "flash", Start: at(2), End: at(40)},
			{Name: "boot", Start: at(41), End: at(70)},
			{Name: "firmware", Start: at(42), End: at(42)},
			{Name: "kernel", Start: at(45), End: at(45)},
			{Name: "userspace", Start: at(52), End: at(52)},
			{Name: "SSH up", Start: at(60), End: at(60)},
			{Name: "suite os", Start: at(70), End: at(150)},
			{Name: "suite hw", Start: at(150), End: at(195)},
		},
		Power: []Mark{{at(1), "on"}, {at(120), "off"}, {at(121), "on"}, {at(125), "reboot"}, {at(199), "off"}},
		Screens: []Screen{
			{T: at(160), Title: "TestGPIO failed", PNG: screenPNG(160, 100, color.RGBA{200, 30, 30, 255}), Test: "hw/TestGPIO"},
			{T: at(175), Title: "desktop after boot", PNG: screenPNG(160, 100, color.RGBA{30, 120, 200, 255})},
		},
		Errors: []string{"suite hw: exit status 2\npanic: runtime error: index out of range [3] with length 3"},
	}
	var written int64
	for s := 2.0; s <= 40; s++ {
		rate := 40e6
		if s > 20 && s < 25 {
			rate = 12e6 // the storage's cache filled
		}
		written += int64(rate)
		d.Flash = append(d.Flash, Sample{T: at(s), Bytes: written})
	}
	line := func(s float64, format string, args ...any) {
		d.Console = append(d.Console, Line{T: at(s), Text: fmt.Sprintf(format, args...)})
	}
	line(42, "U-Boot SPL 2024.01 (Jan 01 2024 - 00:00:00 +0000)")
	for i := range 12 {
		line(45+float64(i)*0.5, "[    %d.%06d] Linux boot message %d", i, i*1234, i)
	}
	line(52, "Welcome to \x1b[1mLeviathan Test OS\x1b[0m!\r")
	line(60, "leviathan login: SSH server listening on port 22")
	type tc struct {
		suite, name, result string
		start, end          float64
		out                 string
		screen              int
		lines               int
	}
	tcs := []tc{
		{"os", "TestBoot", "pass", 70, 75, "=== RUN   TestBoot\n--- PASS: TestBoot (5.00s)\n", -1, 3},
		{"os", "TestNetwork/dhcp", "pass", 76, 80, "", -1, 2},
		{"os", "TestNetwork/dns", "fail", 80, 90, "    network_test.go:42: resolving balena.io: no answer from 10.0.2.3:53\n", -1, 4},
		{"os", "TestNetwork", "fail", 75, 90, "=== RUN   TestNetwork\n    network_test.go:42: resolving balena.io: no answer from 10.0.2.3:53\n--- FAIL: TestNetwork (15.00s)\n", -1, 1},
		{"os", "TestStorage", "pass", 90, 110, "", -1, 5},
		{"os", "TestScreen", "skip", 110, 111, "    screen_test.go:12: no screen on this DUT\n", -1, 1},
		{"os", "TestPowerCut", "pass", 112, 140, "", -1, 6},
		{"hw", "TestGPIO", "fail", 150, 160, "    gpio_test.go:77: pin 17 read 0, want 1\n    gpio_test.go:78: the relay did not switch\n", 0, 4},
		{"hw", "TestDisplay", "pass", 161, 180, "", -1, 3},
		{"hw", "TestSerial", "pass", 181, 190, "", -1, 2},
	}
	for _, c := range tcs {
		from := len(d.Console)
		for i := range c.lines {
			line(c.start+float64(i)*(c.end-c.start)/float64(c.lines+1), "%s: %s step %d", c.suite, c.name, i)
		}
		if c.name == "TestPowerCut" {
			line(121.5, "U-Boot SPL 2024.01 (Jan 01 2024 - 00:00:00 +0000)")
			line(125, "reboot: Restarting system")
		}
		d.Tests = append(d.Tests, Test{Suite: c.suite, Name: c.name, Result: c.result, Start: at(c.start), End: at(c.end),
			Output: c.out, ConsoleFrom: from, ConsoleTo: len(d.Console), Screen: c.screen})
	}
	line(196, "reboot: Power down")
	return d
}

// failedAtFlash is a run that stopped at flash: no console, no tests, no
// screens.
func failedAtFlash() *Data {
	return &Data{
		Title:   "leviathan run — rpi4",
		Started: t0,
		Failure: "flash: worker: writing the image: no space left on the DUT's storage (wanted 8.0 GB, has 7.8 GB)",
		Facts:   []Fact{{Name: "image", Value: "balena-rpi4.img.zst"}, {Name: "worker", Value: "https://worker-7.example"}},
		Stages:  []Span{{Name: "lease", Start: at(0), End: at(30)}, {Name: "flash", Start: at(1), End: at(29)}},
		Flash:   []Sample{{at(1), 0}, {at(10), 300e6}, {at(29), 700e6}},
		Power:   []Mark{{at(0.5), "off"}, {at(29.5), "off"}},
	}
}

// injection is markup that runs script if the report does not escape it.
const injection = `</script><img src=x onerror="console.error('injected img')"><script>console.error('injected script')</script><b id="pwned">` + "\u2028" + `<!--`

// hostile is a run whose every string holds injection.
func hostile() *Data {
	d := failedAtFlash()
	d.Title = "title " + injection
	d.Failure = "failure " + injection
	d.Facts = append(d.Facts, Fact{Name: "fact " + injection, Value: injection, Mono: true})
	d.Stages = append(d.Stages, Span{Name: "stage " + injection, Start: at(2), End: at(3)}, Span{Name: "mark " + injection, Start: at(4)})
	d.Power = append(d.Power, Mark{at(5), "power " + injection})
	d.Errors = []string{"error " + injection}
	d.Console = []Line{{at(6), "console " + injection}, {at(7), strings.Repeat("x", 20) + injection}}
	d.Tests = []Test{{Suite: "suite " + injection, Name: "Test" + injection, Result: "fail " + injection, Start: at(6), End: at(8),
		Output: "output " + injection, ConsoleFrom: 0, ConsoleTo: 2, Screen: 0}}
	d.Screens = []Screen{{T: at(7), Title: "screen " + injection, PNG: screenPNG(8, 8, color.RGBA{255, 0, 0, 255}), Test: "suite " + injection + "/Test" + injection}}
	return d
}
