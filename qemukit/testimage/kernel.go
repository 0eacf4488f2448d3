package testimage

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
)

// kernelModule is a module file to put in the initramfs.
type kernelModule struct {
	Name string // kernel name, "virtio_rng"
	Path string // relative to /lib/modules/<release>/
	Data []byte
}

// kernelParts is what the image takes from the kernel package.
type kernelParts struct {
	Release string // `uname -r`
	Vmlinuz []byte
	Modules []kernelModule // in load order
	Builtin []string       // guest modules the kernel has built in
}

// readKernel takes the kernel image, its config and the modules the guest
// needs (with their dependencies, in load order) from the kernel .deb,
// keeping in memory only what it uses.
func readKernel(ctx context.Context, deb string, log *slog.Logger) (*kernelParts, error) {
	sc := newKernelScan()
	if err := readDeb(ctx, deb, sc.add); err != nil {
		return nil, err
	}
	if sc.kp.Vmlinuz == nil {
		return nil, fmt.Errorf("testimage: %s has no /boot/vmlinuz-*", path.Base(deb))
	}
	if sc.config == nil {
		return nil, fmt.Errorf("testimage: %s has no /boot/config-*", path.Base(deb))
	}
	order, err := sc.loadOrder()
	if err != nil {
		return nil, err
	}
	if err := sc.readMissing(ctx, log, deb, order); err != nil {
		return nil, err
	}
	for _, m := range order {
		sc.kp.Modules = append(sc.kp.Modules, kernelModule{Name: m, Path: sc.paths[m], Data: sc.data[m]})
	}
	log.InfoContext(ctx, "kernel", "release", sc.kp.Release, "modules_in_package", sc.modules,
		"load_order", order, "built_in", sc.kp.Builtin)
	return &sc.kp, nil
}

// kernelScan is what readKernel found in the kernel package.
type kernelScan struct {
	kp      kernelParts
	config  map[string]string   // the kernel's config; nil until found
	deps    map[string][]string // every module -> depends=
	paths   map[string]string   // every module -> path under lib/modules/<release>/
	data    map[string][]byte   // modules kept
	need    map[string]bool     // modules to keep as they stream past
	modules int                 // modules in the package
}

// newKernelScan is a scan that keeps the guest's modules, and what they
// are found to depend on, as they stream past.
func newKernelScan() *kernelScan {
	sc := &kernelScan{
		deps:  make(map[string][]string),
		paths: make(map[string]string),
		data:  make(map[string][]byte),
		need:  make(map[string]bool),
	}
	for _, m := range guestModules {
		sc.need[m.Name] = true
	}
	return sc
}

// add takes the package member name, read from r, when it is the kernel
// image, its config or a module.
func (sc *kernelScan) add(h *tar.Header, name string, r io.Reader) error {
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	switch {
	case strings.HasPrefix(name, "boot/vmlinuz-"):
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		sc.kp.Vmlinuz = b
		sc.kp.Release = strings.TrimPrefix(name, "boot/vmlinuz-")
	case strings.HasPrefix(name, "boot/config-"):
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		sc.config = parseKconfig(b)
	case strings.HasPrefix(name, "lib/modules/") && strings.HasSuffix(name, ".ko"):
		return sc.addModule(name, r)
	}
	return nil
}

// addModule records the module at name (lib/modules/<release>/...): its
// dependencies and path always, its contents when it is needed.
func (sc *kernelScan) addModule(name string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mi, err := parseModinfo(b)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	modName := mi.Name
	if modName == "" {
		modName = moduleName(name)
	}
	// lib/modules/<release>/kernel/...
	parts := strings.SplitN(name, "/", 4)
	if len(parts) < 4 {
		return nil
	}
	sc.modules++
	sc.deps[modName] = mi.Depends
	sc.paths[modName] = parts[3]
	if sc.need[modName] {
		sc.data[modName] = b
		for _, d := range mi.Depends {
			sc.need[d] = true
		}
	}
	return nil
}

// loadOrder sorts the guest's modules the kernel has built in into
// kp.Builtin and returns the others, with their dependencies, in load
// order. A guest module the kernel's config leaves out is an error.
func (sc *kernelScan) loadOrder() ([]string, error) {
	var roots []string
	for _, m := range guestModules {
		switch sc.config[m.Config] {
		case "y":
			sc.kp.Builtin = append(sc.kp.Builtin, m.Name)
		case "m":
			roots = append(roots, m.Name)
		default:
			return nil, fmt.Errorf("testimage: kernel %s has no %s (%s is not set): the guest needs it", sc.kp.Release, m.Name, m.Config)
		}
	}
	return moduleLoadOrder(sc.deps, roots)
}

// readMissing reads the modules of order that streamed past before
// anything needed them: it reads the package deb again, stopping as soon
// as all are in.
func (sc *kernelScan) readMissing(ctx context.Context, log *slog.Logger, deb string, order []string) error {
	want := make(map[string]string) // path -> module
	for _, m := range order {
		if sc.data[m] == nil {
			want[path.Join("lib/modules", sc.kp.Release, sc.paths[m])] = m
		}
	}
	if len(want) == 0 {
		return nil
	}
	log.DebugContext(ctx, "second pass over the kernel package", "modules", len(want))
	err := readDeb(ctx, deb, func(h *tar.Header, name string, r io.Reader) error {
		m, ok := want[name]
		if !ok || h.Typeflag != tar.TypeReg {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		sc.data[m] = b
		delete(want, name)
		if len(want) == 0 {
			return errStopReading
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range order {
		if sc.data[m] == nil {
			return fmt.Errorf("testimage: module %s vanished from %s", m, path.Base(deb))
		}
	}
	return nil
}
