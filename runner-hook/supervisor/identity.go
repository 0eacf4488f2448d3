package supervisor

import (
	"fmt"
	"io/fs"
	"os/user"
	"slices"
	"strconv"
	"syscall"
)

// Identity is a local user as the kernel sees it.
type Identity struct {
	Name string
	UID  uint32
	GID  uint32 // primary group
	// Groups are the supplementary groups, the primary one included.
	Groups []uint32
	Home   string
}

// LookupUser returns the identity of the user with the given name or
// numeric id.
func LookupUser(name string) (Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var uerr error
		if u, uerr = user.LookupId(name); uerr != nil {
			return Identity{}, fmt.Errorf("supervisor: user %q: %w", name, err)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return Identity{}, fmt.Errorf("supervisor: user %q: non-numeric ids %s:%s", name, u.Uid, u.Gid)
	}
	id := Identity{Name: u.Username, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return Identity{}, fmt.Errorf("supervisor: groups of %s: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			id.Groups = append(id.Groups, uint32(n))
		}
	}
	if !slices.Contains(id.Groups, id.GID) {
		id.Groups = append(id.Groups, id.GID)
	}
	return id, nil
}

// InGroup reports whether the user is a member of the group gid.
func (id Identity) InGroup(gid uint32) bool { return id.GID == gid || slices.Contains(id.Groups, gid) }

// owner returns a file's owner and group.
func owner(fi fs.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// canWrite reports whether id may write the file or directory fi by its
// mode bits: owner bits for its owner, group bits for its group's
// members, the others' bits for everyone else.
func canWrite(fi fs.FileInfo, id Identity) bool {
	if id.UID == 0 {
		return true
	}
	uid, gid := owner(fi)
	perm := fi.Mode().Perm()
	switch {
	case uid == id.UID:
		return perm&0o200 != 0
	case id.InGroup(gid):
		return perm&0o020 != 0
	}
	return perm&0o002 != 0
}
