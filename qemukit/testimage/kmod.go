package testimage

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// guestModule is a kernel feature the guest needs, by module name and the
// Kconfig symbol that says whether it is built in (=y) or a module (=m).
type guestModule struct {
	Name   string
	Config string
}

// guestModules are what the test OS needs from the kernel: the virtio PCI
// transport, disk, network and RNG, and FAT with the code pages vfat mounts
// with by default. Those built into the kernel are skipped.
var guestModules = []guestModule{
	{"virtio_pci", "CONFIG_VIRTIO_PCI"},
	{"virtio_blk", "CONFIG_VIRTIO_BLK"},
	{"virtio_net", "CONFIG_VIRTIO_NET"},
	{"virtio_rng", "CONFIG_HW_RANDOM_VIRTIO"},
	{"fat", "CONFIG_FAT_FS"},
	{"vfat", "CONFIG_VFAT_FS"},
	{"nls_cp437", "CONFIG_NLS_CODEPAGE_437"},
	{"nls_ascii", "CONFIG_NLS_ASCII"},
	{"nls_iso8859_1", "CONFIG_NLS_ISO8859_1"},
	{"nls_utf8", "CONFIG_NLS_UTF8"},
}

// moduleName is the kernel's name for a module file: its base name without
// ".ko", with dashes as underscores ("virtio-rng.ko" is virtio_rng).
func moduleName(file string) string {
	return strings.ReplaceAll(strings.TrimSuffix(path.Base(file), ".ko"), "-", "_")
}

// modinfo is what a module's .modinfo section says about it.
type modinfo struct {
	Name    string
	Depends []string
}

// parseModinfo reads the .modinfo section of a kernel module: NUL-separated
// key=value strings, of which it keeps name= and depends= (a comma-separated
// list of module names that must be loaded first).
func parseModinfo(ko []byte) (modinfo, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return modinfo{}, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return modinfo{}, errors.New("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return modinfo{}, fmt.Errorf(".modinfo: %w", err)
	}
	var mi modinfo
	for _, field := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(field), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			mi.Name = v
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, moduleName(d))
				}
			}
		}
	}
	return mi, nil
}

// moduleLoadOrder returns roots and everything they depend on, each module
// after its dependencies, so that loading them in that order with insmod
// succeeds. deps maps every known module to its depends= list. The order is
// deterministic: roots are visited in the order given, dependencies sorted.
func moduleLoadOrder(deps map[string][]string, roots []string) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int)
	var order []string
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("testimage: module dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
		}
		d, ok := deps[name]
		if !ok {
			if len(chain) == 0 {
				return fmt.Errorf("testimage: module %s not found", name)
			}
			return fmt.Errorf("testimage: module %s (needed by %s) not found", name, chain[len(chain)-1])
		}
		state[name] = visiting
		sorted := append([]string(nil), d...)
		sort.Strings(sorted)
		for _, dep := range sorted {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// parseKconfig reads a kernel config file into symbol -> value ("y", "m",
// a string); unset symbols are absent.
func parseKconfig(data []byte) map[string]string {
	cfg := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cfg[k] = v
		}
	}
	return cfg
}
