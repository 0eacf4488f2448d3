package qemukit

import (
	"fmt"
	"os"
)

// firmwarePairs are OVMF code/vars pairs in the order they are tried.
var firmwarePairs = [][2]string{
	{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
	{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
	{"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
}

// FindFirmware returns the OVMF code and variable-template files.
func FindFirmware() (code, vars string, err error) {
	for _, p := range firmwarePairs {
		if fileExists(p[0]) && fileExists(p[1]) {
			return p[0], p[1], nil
		}
	}
	return "", "", fmt.Errorf("qemukit: no OVMF firmware found (looked for %s); install it with: apt-get install ovmf", firmwarePairs[0][0])
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
