// Command guestconfig runs inside the Leviathan test OS at boot. It applies
// the boot partition's config.json (balenaOS layout): "hostname" becomes
// /etc/hostname, /etc/hosts and the running hostname; "os.sshKeys" becomes
// /root/.ssh/authorized_keys. A missing or invalid file leaves the defaults
// (hostname leviathan-testos, no keys) and says so in one line on stdout.
//
// It uses the standard library only: the image builder compiles it from
// its embedded source, as a static linux/amd64 binary, outside this module.
//
// Limits: it knows only the hostname and os.sshKeys fields; everything else
// in config.json is ignored. Keys are written as given, one per line,
// without checking that they parse.
package main
