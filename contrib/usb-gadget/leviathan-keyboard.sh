#!/bin/sh
# Sets up a USB keyboard gadget for KEYBOARD=hidgadget on a board with a
# USB device controller (a Raspberry Pi Zero/4 on its OTG port, most
# OTG-capable SBCs): the DUT sees a boot keyboard, the worker writes
# /dev/hidg0. Run as root at boot (after `modprobe libcomposite`; on a
# Raspberry Pi, dtoverlay=dwc2 in config.txt). Undo with: $0 remove
set -eu
g=/sys/kernel/config/usb_gadget/leviathan-keyboard

if [ "${1:-}" = remove ]; then
	[ -d "$g" ] || exit 0
	echo "" >"$g/UDC" || true
	rm -f "$g/configs/c.1/hid.usb0"
	rmdir "$g/configs/c.1/strings/0x409" "$g/configs/c.1" "$g/functions/hid.usb0" "$g/strings/0x409" "$g"
	exit 0
fi

modprobe libcomposite
[ -d /sys/kernel/config/usb_gadget ] || mount -t configfs none /sys/kernel/config
udc=$(ls /sys/class/udc | head -n 1)
if [ -z "$udc" ]; then
	echo "no USB device controller in /sys/class/udc: this board cannot be a USB gadget (on a Raspberry Pi add dtoverlay=dwc2)" >&2
	exit 1
fi

mkdir -p "$g"
echo 0x1d6b >"$g/idVendor"  # Linux Foundation
echo 0x0104 >"$g/idProduct" # Multifunction Composite Gadget
echo 0x0100 >"$g/bcdDevice"
echo 0x0200 >"$g/bcdUSB"
mkdir -p "$g/strings/0x409"
echo "leviathan" >"$g/strings/0x409/manufacturer"
echo "Leviathan keyboard" >"$g/strings/0x409/product"
echo "$(hostname)" >"$g/strings/0x409/serialnumber"

f="$g/functions/hid.usb0"
mkdir -p "$f"
echo 1 >"$f/protocol"     # keyboard
echo 1 >"$f/subclass"     # boot interface
echo 8 >"$f/report_length"
# The boot keyboard report descriptor (HID 1.11, appendix B.1): modifiers,
# a reserved byte, six key codes; LED output report.
printf '\005\001\011\006\241\001\005\007\031\340\051\347\025\000\045\001\165\001\225\010\201\002\225\001\165\010\201\003\225\005\165\001\005\010\031\001\051\005\221\002\225\001\165\003\221\003\225\006\165\010\025\000\045\145\005\007\031\000\051\145\201\000\300' >"$f/report_desc"

c="$g/configs/c.1"
mkdir -p "$c/strings/0x409"
echo "boot keyboard" >"$c/strings/0x409/configuration"
echo 100 >"$c/MaxPower"
ln -sf "$f" "$c/"
echo "$udc" >"$g/UDC"
echo "keyboard gadget bound to $udc; the worker writes /dev/hidg0 (KEYBOARD=hidgadget KEYBOARD_DEVICE=/dev/hidg0)"
