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
	var (
		kp      kernelParts
		config  map[string]string
		deps    = make(map[string][]string) // every module -> depends=
		paths   = make(map[string]string)   // every module -> path under lib/modules/<release>/
		data    = make(map[string][]byte)   // modules kept
		need    = make(map[string]bool)     // modules to keep as they stream past
		modules int
	)
	for _, m := range guestModules {
		need[m.Name] = true
	}
	err := readDeb(ctx, deb, func(h *tar.Header, name string, r io.Reader) error {
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		switch {
		case strings.HasPrefix(name, "boot/vmlinuz-"):
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			kp.Vmlinuz = b
			kp.Release = strings.TrimPrefix(name, "boot/vmlinuz-")
		case strings.HasPrefix(name, "boot/config-"):
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			config = parseKconfig(b)
		case strings.HasPrefix(name, "lib/modules/") && strings.HasSuffix(name, ".ko"):
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
			modules++
			deps[modName] = mi.Depends
			paths[modName] = parts[3]
			if need[modName] {
				data[modName] = b
				for _, d := range mi.Depends {
					need[d] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if kp.Vmlinuz == nil {
		return nil, fmt.Errorf("testimage: %s has no /boot/vmlinuz-*", path.Base(deb))
	}
	if config == nil {
		return nil, fmt.Errorf("testimage: %s has no /boot/config-*", path.Base(deb))
	}

	var roots []string
	for _, m := range guestModules {
		switch config[m.Config] {
		case "y":
			kp.Builtin = append(kp.Builtin, m.Name)
		case "m":
			roots = append(roots, m.Name)
		default:
			return nil, fmt.Errorf("testimage: kernel %s has no %s (%s is not set): the guest needs it", kp.Release, m.Name, m.Config)
		}
	}
	order, err := moduleLoadOrder(deps, roots)
	if err != nil {
		return nil, err
	}

	// Dependencies that streamed past before anything needed them: read
	// the package again, stopping as soon as all are in.
	missing := make(map[string]bool)
	for _, m := range order {
		if data[m] == nil {
			missing[m] = true
		}
	}
	if len(missing) > 0 {
		log.DebugContext(ctx, "second pass over the kernel package", "modules", len(missing))
		want := make(map[string]string) // path -> module
		for m := range missing {
			want[path.Join("lib/modules", kp.Release, paths[m])] = m
		}
		err := readDeb(ctx, deb, func(h *tar.Header, name string, r io.Reader) error {
			m, ok := want[name]
			if !ok || h.Typeflag != tar.TypeReg {
				return nil
			}
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			data[m] = b
			delete(want, name)
			if len(want) == 0 {
				return errStopReading
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, m := range order {
			if data[m] == nil {
				return nil, fmt.Errorf("testimage: module %s vanished from %s", m, path.Base(deb))
			}
		}
	}
	for _, m := range order {
		kp.Modules = append(kp.Modules, kernelModule{Name: m, Path: paths[m], Data: data[m]})
	}
	log.InfoContext(ctx, "kernel", "release", kp.Release, "modules_in_package", modules,
		"load_order", order, "built_in", kp.Builtin)
	return &kp, nil
}
