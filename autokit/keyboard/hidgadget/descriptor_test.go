package hidgadget

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestGadgetScriptDescriptor reads the report descriptor the gadget set-up
// script (contrib/usb-gadget) writes and checks it describes the reports
// Press sends: an 8-byte input report of modifier bits, a reserved byte
// and six key usages up to maxUsage.
func TestGadgetScriptDescriptor(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "..", "contrib", "usb-gadget", "leviathan-keyboard.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`printf '((?:\\[0-7]{3})+)' >"\$f/report_desc"`).FindSubmatch(script)
	if m == nil {
		t.Fatal("no printf of report_desc in the script")
	}
	var desc []byte
	for _, oct := range regexp.MustCompile(`\\([0-7]{3})`).FindAllSubmatch(m[1], -1) {
		v, _ := strconv.ParseUint(string(oct[1]), 8, 8)
		desc = append(desc, byte(v))
	}
	if !regexp.MustCompile(`echo 8 >"\$f/report_length"`).Match(script) {
		t.Error("the script does not set report_length 8")
	}

	// Walk the short items (HID 1.11 section 6.2.2.2), adding up the
	// input report's bits and noting the key array's largest usage.
	var size, count, inputBits, logMax, usageMax uint32
	for i := 0; i < len(desc); {
		prefix := desc[i]
		n := int(prefix & 3)
		if n == 3 {
			n = 4
		}
		if i+1+n > len(desc) {
			t.Fatalf("item at %d runs past the descriptor's end", i)
		}
		var v uint32
		for j := n - 1; j >= 0; j-- {
			v = v<<8 | uint32(desc[i+1+j])
		}
		switch prefix &^ 3 {
		case 0x74: // report size
			size = v
		case 0x94: // report count
			count = v
		case 0x24: // logical maximum
			logMax = v
		case 0x28: // usage maximum
			usageMax = v
		case 0x80: // input
			inputBits += size * count
		}
		i += 1 + n
	}
	if inputBits != 64 {
		t.Errorf("the input report is %d bits; Press writes 8 bytes", inputBits)
	}
	if logMax != maxUsage || usageMax != maxUsage {
		t.Errorf("the key array goes up to usage %#x (logical max %#x); the package allows up to %#x", usageMax, logMax, maxUsage)
	}
}
