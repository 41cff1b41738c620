//go:build unix

package sock

import (
	"fmt"
	"os"
	"syscall"
)

// checkOwner refuses a file another user owns or, unless it is a
// directory, that others may read or write: the socket carries sealed
// credentials and every operator action.
func checkOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to uid %d, not to this user (uid %d)", path, st.Uid, uid)
	}
	if !fi.IsDir() && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %v; only its owner may use it", path, fi.Mode().Perm())
	}
	return nil
}
