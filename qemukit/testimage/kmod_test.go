package testimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func TestModuleLoadOrder(t *testing.T) {
	// The shape of Debian 6.1's virtio and FAT modules.
	debian := map[string][]string{
		"virtio_ring":           nil,
		"virtio":                {"virtio_ring"},
		"virtio_pci_legacy_dev": nil,
		"virtio_pci_modern_dev": nil,
		"virtio_pci":            {"virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio", "virtio_ring"},
		"virtio_blk":            {"virtio", "virtio_ring"},
		"failover":              nil,
		"net_failover":          {"failover"},
		"virtio_net":            {"net_failover", "virtio", "virtio_ring"},
		"fat":                   nil,
		"vfat":                  {"fat"},
		"nls_utf8":              nil,
	}
	for _, tc := range []struct {
		name    string
		deps    map[string][]string
		roots   []string
		want    []string
		wantErr string
	}{
		{name: "none", deps: debian, roots: nil, want: nil},
		{name: "leaf", deps: debian, roots: []string{"fat"}, want: []string{"fat"}},
		{name: "chain", deps: debian, roots: []string{"vfat"}, want: []string{"fat", "vfat"}},
		{
			name: "virtio", deps: debian, roots: []string{"virtio_pci", "virtio_blk", "virtio_net"},
			want: []string{"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
				"virtio_blk", "failover", "net_failover", "virtio_net"},
		},
		{name: "root listed twice", deps: debian, roots: []string{"vfat", "fat", "vfat"}, want: []string{"fat", "vfat"}},
		{name: "dependency given as root first", deps: debian, roots: []string{"virtio", "virtio_blk"},
			want: []string{"virtio_ring", "virtio", "virtio_blk"}},
		{
			name: "diamond", deps: map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": nil},
			roots: []string{"a"}, want: []string{"d", "b", "c", "a"},
		},
		{name: "missing root", deps: debian, roots: []string{"nope"}, wantErr: "module nope not found"},
		{
			name: "missing dependency", deps: map[string][]string{"a": {"b"}},
			roots: []string{"a"}, wantErr: "module b (needed by a) not found",
		},
		{
			name: "cycle", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}},
			roots: []string{"a"}, wantErr: "cycle: a -> b -> c -> a",
		},
		{name: "self", deps: map[string][]string{"a": {"a"}}, roots: []string{"a"}, wantErr: "cycle: a -> a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := moduleLoadOrder(tc.deps, tc.roots)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "testimage: ") {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("order = %v, want %v", got, tc.want)
			}
			// Every module comes after everything it depends on.
			pos := make(map[string]int)
			for i, m := range got {
				pos[m] = i
			}
			for _, m := range got {
				for _, d := range tc.deps[m] {
					if pos[d] >= pos[m] {
						t.Errorf("%s loads before its dependency %s", m, d)
					}
				}
			}
		})
	}
}

// fakeModule builds a minimal relocatable ELF64 file with a .modinfo
// section holding fields.
func fakeModule(fields ...string) []byte {
	modinfo := []byte(strings.Join(fields, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modinfoOff := ehsize
	shstrOff := modinfoOff + len(modinfo)
	shOff := (shstrOff + len(shstr) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := elf.Header64{
		Ident:     [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(elf.ET_REL),
		Machine:   uint16(elf.EM_X86_64),
		Version:   uint32(elf.EV_CURRENT),
		Shoff:     uint64(shOff),
		Ehsize:    ehsize,
		Shentsize: shentsize,
		Shnum:     3,
		Shstrndx:  2,
	}
	_ = binary.Write(&b, le, hdr)
	b.Write(modinfo)
	b.Write(shstr)
	b.Write(make([]byte, shOff-b.Len()))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: uint64(modinfoOff), Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: uint64(shstrOff), Size: uint64(len(shstr)), Addralign: 1},
	} {
		_ = binary.Write(&b, le, sh)
	}
	return b.Bytes()
}

func TestParseModinfo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []string
		want   modinfo
	}{
		{"no deps", []string{"license=GPL", "depends=", "name=virtio_ring", "vermagic=6.1.0-56-amd64 SMP"},
			modinfo{Name: "virtio_ring"}},
		{"deps", []string{"alias=virtio:d00000002v*", "depends=virtio,virtio_ring", "name=virtio_blk"},
			modinfo{Name: "virtio_blk", Depends: []string{"virtio", "virtio_ring"}}},
		{"dashes", []string{"depends=nls-base", "name=virtio_rng"},
			modinfo{Name: "virtio_rng", Depends: []string{"nls_base"}}},
		{"no name", []string{"depends=fat"}, modinfo{Depends: []string{"fat"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseModinfo(fakeModule(tc.fields...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := parseModinfo([]byte("not an ELF file")); err == nil {
		t.Error("parseModinfo accepted garbage")
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"kernel/fs/nls/nls_iso8859-1.ko":              "nls_iso8859_1",
		"vfat.ko":                                     "vfat",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseKconfig(t *testing.T) {
	cfg := parseKconfig([]byte("# comment\nCONFIG_VIRTIO_PCI=m\nCONFIG_PACKET=y\n# CONFIG_FOO is not set\nCONFIG_NLS_DEFAULT=\"utf8\"\n"))
	want := map[string]string{"CONFIG_VIRTIO_PCI": "m", "CONFIG_PACKET": "y", "CONFIG_NLS_DEFAULT": `"utf8"`}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %v, want %v", cfg, want)
	}
}
