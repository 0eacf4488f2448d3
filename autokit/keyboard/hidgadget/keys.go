package hidgadget

import (
	"fmt"
	"sort"
	"strings"
)

// Usage IDs from the USB HID Usage Tables, Keyboard/Keypad page (0x07),
// keyed by QEMU's QKeyCode names (qapi/ui.json). Modifiers are not here:
// a boot keyboard report carries them as bits of its first byte.
var usages = map[string]byte{
	"a": 0x04, "b": 0x05, "c": 0x06, "d": 0x07, "e": 0x08, "f": 0x09, "g": 0x0a,
	"h": 0x0b, "i": 0x0c, "j": 0x0d, "k": 0x0e, "l": 0x0f, "m": 0x10, "n": 0x11,
	"o": 0x12, "p": 0x13, "q": 0x14, "r": 0x15, "s": 0x16, "t": 0x17, "u": 0x18,
	"v": 0x19, "w": 0x1a, "x": 0x1b, "y": 0x1c, "z": 0x1d,
	"1": 0x1e, "2": 0x1f, "3": 0x20, "4": 0x21, "5": 0x22, "6": 0x23, "7": 0x24,
	"8": 0x25, "9": 0x26, "0": 0x27,
	"ret": 0x28, "esc": 0x29, "backspace": 0x2a, "tab": 0x2b, "spc": 0x2c,
	"minus": 0x2d, "equal": 0x2e, "bracket_left": 0x2f, "bracket_right": 0x30,
	"backslash": 0x31, "semicolon": 0x33, "apostrophe": 0x34, "grave_accent": 0x35,
	"comma": 0x36, "dot": 0x37, "slash": 0x38, "caps_lock": 0x39,
	"f1": 0x3a, "f2": 0x3b, "f3": 0x3c, "f4": 0x3d, "f5": 0x3e, "f6": 0x3f,
	"f7": 0x40, "f8": 0x41, "f9": 0x42, "f10": 0x43, "f11": 0x44, "f12": 0x45,
	"print": 0x46, "sysrq": 0x46, "scroll_lock": 0x47, "pause": 0x48,
	"insert": 0x49, "home": 0x4a, "pgup": 0x4b, "delete": 0x4c, "end": 0x4d,
	"pgdn": 0x4e, "right": 0x4f, "left": 0x50, "down": 0x51, "up": 0x52,
	"num_lock": 0x53, "kp_divide": 0x54, "kp_multiply": 0x55, "kp_subtract": 0x56,
	"kp_add": 0x57, "kp_enter": 0x58, "kp_1": 0x59, "kp_2": 0x5a, "kp_3": 0x5b,
	"kp_4": 0x5c, "kp_5": 0x5d, "kp_6": 0x5e, "kp_7": 0x5f, "kp_8": 0x60,
	"kp_9": 0x61, "kp_0": 0x62, "kp_decimal": 0x63, "less": 0x64, "compose": 0x65,
	// Beyond the boot keyboard's range (see maxUsage): named so that the
	// error says why rather than "unknown key".
	"power": 0x66, "kp_equals": 0x67,
	"f13": 0x68, "f14": 0x69, "f15": 0x6a, "f16": 0x6b, "f17": 0x6c, "f18": 0x6d,
	"f19": 0x6e, "f20": 0x6f, "f21": 0x70, "f22": 0x71, "f23": 0x72, "f24": 0x73,
	"help": 0x75, "menu": 0x76, "stop": 0x78, "again": 0x79, "undo": 0x7a,
	"cut": 0x7b, "copy": 0x7c, "paste": 0x7d, "find": 0x7e, "audiomute": 0x7f,
	"volumeup": 0x80, "volumedown": 0x81, "kp_comma": 0x85, "ro": 0x87,
	"katakanahiragana": 0x88, "yen": 0x89, "henkan": 0x8a, "muhenkan": 0x8b,
	"lang1": 0x90, "lang2": 0x91, "props": 0xa3,
}

// maxUsage is the largest key usage the boot keyboard report descriptor
// (HID 1.11 appendix B.1, and the Linux gadget documentation's example)
// declares: Logical Maximum 101.
const maxUsage = 0x65

// modifiers are the bits of a report's first byte (usages 0xe0–0xe7).
var modifiers = map[string]byte{
	"ctrl": 1 << 0, "shift": 1 << 1, "alt": 1 << 2, "meta_l": 1 << 3,
	"ctrl_r": 1 << 4, "shift_r": 1 << 5, "alt_r": 1 << 6, "meta_r": 1 << 7,
}

// aliases are names people type for QKeyCode names; they are suggested,
// not accepted, so that scripts stay portable to QemuKit.
var aliases = map[string]string{
	"enter": "ret", "return": "ret", "space": "spc", "escape": "esc",
	"del": "delete", "ins": "insert", "pageup": "pgup", "pagedown": "pgdn",
	"control": "ctrl", "ctl": "ctrl", "win": "meta_l", "super": "meta_l",
	"meta": "meta_l", "cmd": "meta_l", "altgr": "alt_r", "capslock": "caps_lock",
	"bksp": "backspace", "period": "dot", "printscreen": "print", "prtsc": "print",
}

// Names lists the key names Press accepts, sorted.
func Names() []string {
	var n []string
	for k, u := range usages {
		if u <= maxUsage {
			n = append(n, k)
		}
	}
	for k := range modifiers {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// UnknownKeyError is returned for a key name Press does not know.
type UnknownKeyError struct {
	Key     string
	Suggest []string // close matches, best first
}

func (e *UnknownKeyError) Error() string {
	s := fmt.Sprintf("hidgadget: unknown key %q (keys use QEMU's QKeyCode names)", e.Key)
	if len(e.Suggest) > 0 {
		s += "; did you mean " + strings.Join(e.Suggest, ", ") + "?"
	}
	return s
}

// Report builds the boot keyboard input report that holds down chord:
// modifier bits, a reserved byte, up to six key usages in chord order.
func Report(chord ...string) ([8]byte, error) {
	var r [8]byte
	if len(chord) == 0 {
		return r, fmt.Errorf("hidgadget: no keys to press")
	}
	n := 0
	for _, name := range chord {
		key := strings.ToLower(strings.TrimSpace(name))
		if m, ok := modifiers[key]; ok {
			r[0] |= m
			continue
		}
		u, ok := usages[key]
		if !ok {
			return r, &UnknownKeyError{Key: name, Suggest: suggest(key)}
		}
		if u > maxUsage {
			return r, fmt.Errorf("hidgadget: key %q (usage %#02x) is beyond a boot keyboard report's keys (up to %#02x); the gadget cannot send it", name, u, maxUsage)
		}
		dup := false
		for _, have := range r[2 : 2+n] {
			dup = dup || have == u
		}
		if dup {
			continue
		}
		if n == 6 {
			return r, fmt.Errorf("hidgadget: chord %q holds more than 6 keys besides modifiers; a boot keyboard report carries 6", chord)
		}
		r[2+n] = u
		n++
	}
	return r, nil
}

// suggest returns up to five known names close to key.
func suggest(key string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	if a, ok := aliases[key]; ok {
		cs = append(cs, cand{a, -1})
	}
	for _, n := range Names() {
		d := distance(key, n)
		limit := 1 + len(n)/4
		if d <= limit || (len(key) >= 3 && strings.HasPrefix(n, key)) {
			cs = append(cs, cand{n, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		if !seen[c.name] && len(out) < 5 {
			seen[c.name] = true
			out = append(out, c.name)
		}
	}
	return out
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
