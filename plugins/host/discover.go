package host

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/siphonhq/siphon/plugins/destinations"
)

// BinaryPrefix starts the file name of every external destination plugin.
const BinaryPrefix = "siphon-destination-"

// EnvPluginPath lists extra plugin directories, separated like PATH.
const EnvPluginPath = "SIPHON_PLUGIN_PATH"

// SearchPath returns the plugin directories in the order they are searched:
// dirs (from --plugin-dir), SIPHON_PLUGIN_PATH, ./plugins, ~/.siphon/plugins.
func SearchPath(dirs ...string) []string {
	out := append([]string(nil), dirs...)
	if env := os.Getenv(EnvPluginPath); env != "" {
		out = append(out, filepath.SplitList(env)...)
	}
	out = append(out, "plugins")
	if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, ".siphon", "plugins"))
	}
	return out
}

// Available is a plugin Launch can start.
type Available struct {
	Name    string
	Builtin bool
	Path    string // the executable; for a built-in, the siphon binary
}

// List returns the built-in plugins, then the external ones found on the
// search path (the first of a name wins, as in Launch).
func List(dirs []string) []Available {
	var out []Available
	seen := map[string]bool{}
	self := selfExe()
	for _, n := range destinations.Names() {
		seen[n] = true
		out = append(out, Available{Name: n, Builtin: true, Path: self})
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), BinaryPrefix)
			if !ok || name == "" || seen[name] {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if !isExecutable(path) {
				continue
			}
			seen[name] = true
			out = append(out, Available{Name: name, Path: path})
		}
	}
	return out
}

// command is a resolved plugin executable.
type command struct {
	path string
	args []string
	env  []string
}

// resolve finds the executable for cfg: Path if set, else a built-in, else
// siphon-destination-NAME on the search path. The path it returns is
// absolute: exec would resolve a relative one against cfg.Dir, the child's
// working directory, rather than against ours.
func resolve(cfg *LaunchConfig) (command, error) {
	if cfg.Path != "" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return command{}, fmt.Errorf("destination %s: plugin path %s: %w", cfg.Name, cfg.Path, err)
		}
		return command{path: abs, args: cfg.Args, env: cfg.Env}, nil
	}
	if _, ok := destinations.Lookup(cfg.Plugin); ok {
		return command{
			path: selfExe(),
			args: append([]string{"plugin", "serve", cfg.Plugin}, cfg.Args...),
			env:  append([]string{EnvBuiltin + "=" + cfg.Plugin}, cfg.Env...),
		}, nil
	}
	dirs := SearchPath(cfg.Dirs...)
	for _, dir := range dirs {
		path := filepath.Join(dir, BinaryPrefix+cfg.Plugin)
		if isExecutable(path) {
			abs, err := filepath.Abs(path)
			if err != nil {
				abs = path
			}
			return command{path: abs, args: cfg.Args, env: cfg.Env}, nil
		}
	}
	var names []string
	for _, a := range List(dirs) {
		label := a.Name
		if !a.Builtin {
			label += " (" + a.Path + ")"
		}
		names = append(names, label)
	}
	sort.Strings(names)
	have := "none"
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	return command{}, fmt.Errorf("unknown destination plugin %q: available: %s; searched for %s%s in %s",
		cfg.Plugin, have, BinaryPrefix, cfg.Plugin, strings.Join(dirs, ", "))
}

// selfExe is the running siphon binary. /proc/self/exe still names it when
// the file on disk was replaced by an upgrade mid-run.
func selfExe() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return os.Args[0]
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyPin checks the file at path against the pinned hex sha256 and
// returns the decoded pin for go-plugin's SecureConfig.
func verifyPin(label, path, pin string) ([]byte, error) {
	want, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(pin), "sha256:"))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("destination %s: sha256 %q is not a hex SHA-256 digest", label, pin)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("destination %s: hash %s: %w", label, path, err)
	}
	if got != hex.EncodeToString(want) {
		return nil, fmt.Errorf("destination %s: refusing to launch %s: its sha256 is %s but the configuration pins %s",
			label, path, got, hex.EncodeToString(want))
	}
	return want, nil
}
