// Package testimage builds the Leviathan test OS: a small, known Linux disk
// image for exercising the flash → boot → SSH path of a DUT, real or QEMU.
//
// Build needs no root. It fetches Debian packages with apt-get download
// (the kernel behind linux-image-amd64, busybox-static, dropbear-bin and the
// packages of its libraries, systemd-boot-efi) into a cache directory,
// reads the files it needs straight out of the .debs (dpkg-deb
// --fsys-tarfile into archive/tar), finds shared libraries from the ELF
// DT_NEEDED entries and interpreter of the binaries, orders kernel modules
// by the depends= field of their .modinfo sections, writes the initramfs as
// a gzip-compressed newc cpio archive itself, and lays out the disk with
// go-diskfs:
//
//	partition 1  GPT name "boot", EFI system partition, FAT32 "LEVBOOT", 100 MiB
//	             /EFI/BOOT/BOOTX64.EFI (systemd-boot), /loader/loader.conf,
//	             /loader/entries/leviathan.conf, /vmlinuz, /initrd.img,
//	             /config.json, /image.json
//	partition 2  GPT name "data", Linux filesystem, FAT32 "LEVDATA", 64 MiB
//
// The guest prints Banner on the console, mounts /dev/vda1 at /mnt/boot and
// /dev/vda2 at /mnt/data, applies /mnt/boot/config.json (hostname and
// os.sshKeys), gets an address on eth0 with udhcpc (lease in
// /run/udhcpc.eth0.lease), starts dropbear on SSHPort (keys only, root
// allowed) and prints ReadyLine. A root shell runs on ttyS0; reboot works.
// A boot partition holding FlasherMarker plays a flasher image instead:
// the guest copies the marker to InstalledMarker, deletes it and powers
// off ("reboot: Power down" on the console), so flashing procedures that
// wait for a flasher to finish can be tested on a QEMU DUT.
//
// Limits: x86-64 only, UEFI only (no BIOS boot), virtio disk and network
// only (the disk must appear as /dev/vda); Debian bookworm packages, so the
// build host needs apt with bookworm lists (other releases may work but are
// untested); a Go toolchain compiles the guest's config helper. There is no
// scp or sftp server in the guest: copy files with `ssh … 'cat > file'`.
// Root filesystem changes live in RAM and vanish at reboot; only the FAT
// partitions persist.
package testimage
