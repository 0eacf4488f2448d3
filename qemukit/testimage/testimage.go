package testimage

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"
)

// Version is the version of the test OS, shown in its banner and
// /etc/os-release.
const Version = "1.0.0"

// Name is the test OS's name: the manifest's Name and the image file's
// base name.
const Name = "leviathan-testos"

// builderRevision changes whenever what images are made of changes in a
// way that the package versions, the embedded guest files and this
// package's own sources do not show (autokit/bootpart's TidyFAT, say), so
// that existing images are rebuilt.
const builderRevision = "testimage-1"

// builderSources are this package's sources, hashed into the recipe so a
// change to how images are made rebuilds them (test files are skipped).
//
//go:embed *.go
var builderSources embed.FS

// Guest facts other packages rely on.
const (
	// SSHPort is the port dropbear listens on in the guest.
	SSHPort = 22222
	// Banner is the start of the line /init prints on the console first;
	// the full line is "Leviathan test OS <Version> booting (kernel <release>)".
	Banner = "Leviathan test OS " + Version + " booting"
	// ReadyLine is printed on the console once dropbear is running and
	// eth0 has its DHCP lease (or ~10 s have passed without one).
	ReadyLine = "leviathan: ssh ready on port 22222"
	// FlasherMarker on the boot partition makes the next boot a flasher
	// run: it is copied to InstalledMarker and removed, and the guest
	// powers off.
	FlasherMarker = "/leviathan-flasher"
	// InstalledMarker is where a flasher run records the install.
	InstalledMarker = "/leviathan-installed"
	// DefaultConfigJSON is the boot partition's /config.json as built.
	DefaultConfigJSON = `{"hostname":"leviathan-testos","os":{"sshKeys":[]}}` + "\n"
	// KernelCmdline is the kernel command line of the normal image.
	KernelCmdline = "console=ttyS0,115200"
	// PanicKernelCmdline is the kernel command line of the Panic variant:
	// no init is found, so the kernel panics and stays halted.
	PanicKernelCmdline = KernelCmdline + " rdinit=/no-such-init panic=0"
	// PanicLine is the start of the line the Panic variant's kernel prints
	// on the console ("Kernel panic - not syncing: VFS: Unable to mount
	// root fs on unknown-block(0,0)").
	PanicLine = "Kernel panic - not syncing"
)

const defaultHostname = "leviathan-testos"

// Options say where Build keeps its downloads and its output.
type Options struct {
	// CacheDir is where downloaded .deb files are kept between builds
	// (for example build/cache/debs). It is created if missing.
	CacheDir string
	// OutDir is where the image and its manifest are written (for example
	// build/testimage). It is created if missing.
	OutDir string
	// Panic builds the variant whose kernel panics at boot (kernel command
	// line rdinit=/no-such-init panic=0), written as
	// leviathan-testos-panic.img.
	Panic bool
	// Reuse accepts an existing image built from this recipe without
	// asking apt whether newer packages exist (no apt-cache calls, which
	// take seconds). A missing or stale image is still (re)built.
	Reuse bool
	// Logger receives progress; nil means silent.
	Logger *slog.Logger
}

// Manifest describes a built image. It is written as JSON next to the
// image (<image>.json) and, without Image and SHA256, as /image.json on
// the image's boot partition.
type Manifest struct {
	// Name is always "leviathan-testos".
	Name string `json:"name"`
	// Version is the test OS version (the Version constant).
	Version string `json:"version"`
	// Kernel is the kernel release, exactly what `uname -r` prints on the
	// DUT, e.g. "6.1.0-56-amd64".
	Kernel string `json:"kernel"`
	// Packages maps each Debian package used to its version.
	Packages map[string]string `json:"packages"`
	// Image is the absolute path of the image file (host-side only).
	Image string `json:"image,omitempty"`
	// SHA256 is the hex digest of the image file (host-side only).
	SHA256 string `json:"sha256,omitempty"`
	// Size is the image file's size in bytes.
	Size int64 `json:"size"`
}

// ImagePath returns where Build writes the image for opts.
func ImagePath(opts Options) string {
	name := Name + ".img"
	if opts.Panic {
		name = Name + "-panic.img"
	}
	return filepath.Join(opts.OutDir, name)
}

// ManifestPath returns the host-side manifest of the image at img.
func ManifestPath(img string) string { return img + ".json" }

// Build builds the test OS disk image into opts.OutDir, or returns the
// manifest of the image already there when it was built from the same
// inputs (package versions and builder recipe). It needs apt-get,
// apt-cache and dpkg-deb (Debian), a Go toolchain, and the network only
// for packages not yet in opts.CacheDir; it needs no root, except to run
// `apt-get update` when apt's package lists are missing or stale.
//
// The image is written under a temporary name and renamed, so the final
// name never holds a half-built image. Concurrent builds into the same
// directories wait for each other.
func Build(ctx context.Context, opts Options) (*Manifest, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir == "" || opts.OutDir == "" {
		return nil, errors.New("testimage: Options.CacheDir and Options.OutDir are required")
	}
	var err error
	if opts.CacheDir, err = filepath.Abs(opts.CacheDir); err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	if opts.OutDir, err = filepath.Abs(opts.OutDir); err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	for _, d := range []string{opts.CacheDir, opts.OutDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("testimage: %w", err)
		}
	}
	img := ImagePath(opts)
	unlock, err := lockFile(ctx, filepath.Join(opts.OutDir, "."+filepath.Base(img)+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	if opts.Reuse {
		if m, ok := reusable(img, opts.Panic); ok {
			log.InfoContext(ctx, "reusing the test image without asking apt for newer packages", "image", img)
			return m, nil
		}
	}
	a := &apt{log: log}
	if err := a.check(); err != nil {
		return nil, err
	}
	updated := false
	pkgs, kernelPkg, err := a.resolve(ctx)
	if errors.Is(err, errAptLists) {
		log.InfoContext(ctx, "apt cannot resolve the packages; updating its lists", "err", err)
		if uerr := a.update(ctx); uerr != nil {
			return nil, fmt.Errorf("%w (after: %w)", uerr, err)
		}
		updated = true
		pkgs, kernelPkg, err = a.resolve(ctx)
	}
	if err != nil {
		return nil, err
	}
	inputs, err := recipeHash(pkgs, opts.Panic)
	if err != nil {
		return nil, err
	}
	if m, ok := upToDate(img, inputs); ok {
		log.InfoContext(ctx, "test image is up to date", "image", img)
		return m, nil
	}

	start := time.Now()
	unlockCache, err := lockFile(ctx, filepath.Join(opts.CacheDir, ".lock"))
	if err != nil {
		return nil, err
	}
	err = a.fetch(ctx, opts.CacheDir, pkgs)
	if errors.Is(err, errAptLists) && !updated {
		log.InfoContext(ctx, "download failed; updating apt's lists", "err", err)
		if uerr := a.update(ctx); uerr != nil {
			unlockCache()
			return nil, fmt.Errorf("%w (after: %w)", uerr, err)
		}
		if pkgs, kernelPkg, err = a.resolve(ctx); err == nil {
			if inputs, err = recipeHash(pkgs, opts.Panic); err == nil {
				err = a.fetch(ctx, opts.CacheDir, pkgs)
			}
		}
	}
	unlockCache()
	if err != nil {
		return nil, err
	}

	m, err := assemble(ctx, log, opts, img, inputs, pkgs, kernelPkg)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "test image built", "image", img, "kernel", m.Kernel,
		"size", m.Size, "took", time.Since(start).Round(time.Millisecond))
	return m, nil
}

// recipeHash identifies everything an image is made from.
func recipeHash(pkgs []aptPackage, panicVariant bool) (string, error) {
	h := sha256.New()
	add := func(name string, data []byte) {
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	add("builder", []byte(builderRevision))
	add("version", []byte(Version))
	add("cmdline", []byte(cmdline(panicVariant)))
	add("config.json", []byte(DefaultConfigJSON))
	helper, err := guestconfigFiles()
	if err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	for _, name := range sortedNames(helper) {
		add("guestconfig/"+name, helper[name])
	}
	for _, m := range guestModules {
		add("module", []byte(m.Name+"="+m.Config))
	}
	names := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		names = append(names, p.Name+"="+p.Version)
	}
	slices.Sort(names)
	for _, n := range names {
		add("package", []byte(n))
	}
	if err := guestFileHashInput(add); err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	srcs, err := fs.Glob(builderSources, "*.go")
	if err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	for _, name := range srcs {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := builderSources.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("testimage: %w", err)
		}
		add(name, b)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/diskfs/go-diskfs" {
				add("go-diskfs", []byte(d.Version+" "+d.Sum))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func cmdline(panicVariant bool) string {
	if panicVariant {
		return PanicKernelCmdline
	}
	return KernelCmdline
}

func stampPath(img string) string { return img + ".inputs" }

// stamp is what the .inputs file next to an image records: the recipe
// hash it was built from and the image's modification time then.
func stamp(inputs string, mtime time.Time) []byte {
	return []byte(fmt.Sprintf("%s\n%d\n", inputs, mtime.UnixNano()))
}

// upToDate returns the manifest of the image at img if it was built from
// inputs and is unchanged since. An image touched since it was built (a
// config.json written into it in place, say) is hashed again, and rebuilt
// if it differs.
// reusable is upToDate with the package versions the existing image was
// built from, so no apt query is needed.
func reusable(img string, panicVariant bool) (*Manifest, bool) {
	b, err := os.ReadFile(ManifestPath(img))
	if err != nil {
		return nil, false
	}
	var m Manifest
	if json.Unmarshal(b, &m) != nil || len(m.Packages) == 0 {
		return nil, false
	}
	var pkgs []aptPackage
	for name, v := range m.Packages {
		pkgs = append(pkgs, aptPackage{Name: name, Version: v})
	}
	inputs, err := recipeHash(pkgs, panicVariant)
	if err != nil {
		return nil, false
	}
	return upToDate(img, inputs)
}

func upToDate(img, inputs string) (*Manifest, bool) {
	st, err := os.ReadFile(stampPath(img))
	if err != nil {
		return nil, false
	}
	fields := strings.Fields(string(st))
	if len(fields) != 2 || fields[0] != inputs {
		return nil, false
	}
	b, err := os.ReadFile(ManifestPath(img))
	if err != nil {
		return nil, false
	}
	var m Manifest
	if json.Unmarshal(b, &m) != nil || m.SHA256 == "" {
		return nil, false
	}
	fi, err := os.Stat(img)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != m.Size {
		return nil, false
	}
	if fields[1] != fmt.Sprint(fi.ModTime().UnixNano()) {
		if sum, err := fileSHA256(img); err != nil || sum != m.SHA256 {
			return nil, false
		}
		if writeAtomic(stampPath(img), stamp(inputs, fi.ModTime())) != nil {
			return nil, false
		}
	}
	if m.Image != img {
		// The directory moved: the image is the same, its path is not.
		m.Image = img
		if writeJSON(ManifestPath(img), &m) != nil {
			return nil, false
		}
	}
	return &m, true
}

// assemble reads the packages, builds the initramfs and writes the image.
func assemble(ctx context.Context, log *slog.Logger, opts Options, img, inputs string, pkgs []aptPackage, kernelPkg string) (*Manifest, error) {
	tmp, err := scratchDir(opts.OutDir, img)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	debs := make(map[string]string)
	versions := make(map[string]string)
	for _, p := range pkgs {
		debs[p.Name] = p.Deb
		versions[p.Name] = p.Version
	}
	kp, err := readKernel(ctx, debs[kernelPkg], log)
	if err != nil {
		return nil, err
	}
	if want := strings.TrimPrefix(kernelPkg, "linux-image-"); kp.Release != want {
		return nil, fmt.Errorf("testimage: %s holds kernel %s, expected %s", kernelPkg, kp.Release, want)
	}
	// Busybox and the boot loader: one file each.
	busybox, err := singleFile(ctx, busyboxPackage, debs[busyboxPackage], "bin/busybox")
	if err != nil {
		return nil, err
	}
	sdboot, err := singleFile(ctx, bootPackage, debs[bootPackage], "usr/lib/systemd/boot/efi/systemd-bootx64.efi")
	if err != nil {
		return nil, err
	}
	initrd, err := assembleInitramfs(ctx, log, tmp, pkgs, kernelPkg, kp, busybox)
	if err != nil {
		return nil, err
	}

	m := &Manifest{
		Name:     Name,
		Version:  Version,
		Kernel:   kp.Release,
		Packages: versions,
		Size:     diskSize,
	}
	files, err := bootFiles(m, kp, sdboot, initrd, opts.Panic)
	if err != nil {
		return nil, err
	}
	part := filepath.Join(tmp, filepath.Base(img))
	if err := writeDisk(part, files, inputs); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(part)
	if err != nil {
		return nil, err
	}
	m.SHA256 = sum
	m.Image = img
	if err := install(part, img, m, inputs); err != nil {
		return nil, err
	}
	return m, nil
}

// scratchDir makes the build's scratch directory next to the image, so
// the final rename stays on one filesystem. Leftovers of a killed build
// of this image go first (the lock says no other build of it is running).
func scratchDir(outDir, img string) (string, error) {
	prefix := ".build-" + filepath.Base(img) + "-"
	if old, _ := filepath.Glob(filepath.Join(outDir, prefix+"*")); len(old) > 0 {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	tmp, err := os.MkdirTemp(outDir, prefix)
	if err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	return tmp, nil
}

// singleFile returns the contents of the file name in package pkg (whose
// .deb is deb), following symbolic links within the package.
func singleFile(ctx context.Context, pkg, deb, name string) ([]byte, error) {
	ix := fileIndex{}
	if err := ix.indexDeb(ctx, deb, func(n string) bool { return n == name }); err != nil {
		return nil, err
	}
	chain, err := ix.resolve(name)
	if err != nil {
		return nil, fmt.Errorf("testimage: %s: %w", pkg, err)
	}
	return ix[chain[len(chain)-1]].Data, nil
}

// assembleInitramfs builds the initramfs: the kernel's modules, busybox,
// the guest helper (built into tmp), and dropbear with every shared
// object it needs, from the packages of its dependency closure.
func assembleInitramfs(ctx context.Context, log *slog.Logger, tmp string, pkgs []aptPackage, kernelPkg string, kp *kernelParts, busybox []byte) ([]byte, error) {
	bins := []string{"usr/sbin/dropbear", "usr/bin/dropbearkey"}
	files := fileIndex{}
	for _, p := range pkgs {
		if p.Name == kernelPkg || p.Name == busyboxPackage || p.Name == bootPackage {
			continue
		}
		keep := func(n string) bool {
			if p.Name == dropbearPackage {
				return true
			}
			return isLibraryFile(n)
		}
		if err := files.indexDeb(ctx, p.Deb, keep); err != nil {
			return nil, err
		}
	}
	helper, err := buildHelper(ctx, tmp)
	if err != nil {
		return nil, err
	}
	// Busybox and the helper are static, but check rather than assume.
	const busyboxPath, helperPath = "bin/busybox", "usr/libexec/leviathan/guestconfig"
	files[busyboxPath] = &debEntry{Name: busyboxPath, Type: tar.TypeReg, Mode: 0o755, Data: busybox}
	files[helperPath] = &debEntry{Name: helperPath, Type: tar.TypeReg, Mode: 0o755, Data: helper}
	libs, err := sharedObjectClosure(files, append([]string{busyboxPath, helperPath}, bins...))
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "shared objects", "paths", libs)
	initrd, err := buildInitramfs(initramfsInput{
		Kernel: kp, Busybox: busybox, Helper: helper,
		Files: files, Binaries: bins, Libs: libs,
	})
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "initramfs", "bytes", len(initrd))
	return initrd, nil
}

// bootFiles are the files of the image's boot partition: the boot loader
// and its entry (with the kernel command line of the variant), the kernel,
// the initramfs, the default config.json and the manifest m as
// /image.json.
func bootFiles(m *Manifest, kp *kernelParts, sdboot, initrd []byte, panicVariant bool) ([]diskFile, error) {
	imageJSON, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("testimage: %w", err)
	}
	loaderConf := "timeout 0\ndefault leviathan.conf\neditor no\n"
	entry := fmt.Sprintf("title Leviathan Test OS %s\nversion %s\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n",
		Version, kp.Release, cmdline(panicVariant))
	return []diskFile{
		{"/EFI/BOOT/BOOTX64.EFI", sdboot},
		{"/loader/loader.conf", []byte(loaderConf)},
		{"/loader/entries/leviathan.conf", []byte(entry)},
		{"/vmlinuz", kp.Vmlinuz},
		{"/initrd.img", initrd},
		{"/config.json", []byte(DefaultConfigJSON)},
		{"/image.json", append(imageJSON, '\n')},
	}, nil
}

// install moves the built image part to img and writes its manifest m
// and its stamp of inputs. Invalidate, replace, describe, then vouch: a
// crash at any point leaves either no stamp or a stamp that matches.
func install(part, img string, m *Manifest, inputs string) error {
	if err := os.Remove(stampPath(img)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("testimage: %w", err)
	}
	if err := os.Rename(part, img); err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	if err := writeJSON(ManifestPath(img), m); err != nil {
		return err
	}
	fi, err := os.Stat(img)
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	return writeAtomic(stampPath(img), stamp(inputs, fi.ModTime()))
}

// isLibraryFile reports whether a package member is a shared object in one
// of the loader's directories (the only library files worth keeping).
func isLibraryFile(name string) bool {
	dir, base := filepath.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if !strings.Contains(base, ".so") {
		return false
	}
	for _, d := range libraryDirs {
		if dir == d {
			return true
		}
	}
	return false
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("testimage: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeJSON(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	return writeAtomic(p, append(b, '\n'))
}

// writeAtomic writes data to p through a temporary file and a rename.
func writeAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("testimage: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("testimage: %w", err)
	}
	return nil
}
