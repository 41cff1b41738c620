package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// EnvMasterKey holds the current master key, base64 of 32 bytes; it wins
// over the key file.
const EnvMasterKey = "SIPHON_MASTER_KEY"

// EnvPreviousKeys holds the master keys the current one replaced, base64,
// comma-separated: they open what they sealed but never seal.
const EnvPreviousKeys = "SIPHON_MASTER_KEY_PREVIOUS"

// DefaultKeyFile is where the keyring lives, relative to the config
// directory, when the environment does not give one. It holds one base64
// key a line, newest first: the first line seals, every line opens. Blank
// lines and lines starting with # are ignored.
const DefaultKeyFile = ".siphon/master.key"

// Keyring is the built-in KMS with rotation: the current master key wraps,
// and an envelope is opened by whichever key of the ring its KeyID names.
// A keyring loaded from the environment or a key file loads it again when
// it meets a KeyID it does not hold, so a long-running process keeps
// opening credentials after `siphon credentials rotate-master` re-wrapped
// them under a key written to the file after the process started.
type Keyring struct {
	keys   atomic.Pointer[[]*MasterKey] // current first; replaced whole, never changed in place
	source string                       // where the keys come from, for messages
	file   string                       // the key file; "" when the environment gives the keys
	load   func() ([]*MasterKey, error) // nil: a fixed ring that never reloads
	mu     sync.Mutex                   // one reload at a time
}

// NewKeyring is a fixed ring of keys, the current one first.
func NewKeyring(keys ...*MasterKey) (*Keyring, error) {
	r := &Keyring{source: "keys given"}
	if err := r.set(keys); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Keyring) set(keys []*MasterKey) error {
	keys = dedupe(keys)
	if len(keys) == 0 {
		return fmt.Errorf("%s: no master key", r.source)
	}
	r.keys.Store(&keys)
	return nil
}

func dedupe(keys []*MasterKey) []*MasterKey {
	var out []*MasterKey
	seen := map[string]bool{}
	for _, k := range keys {
		if k != nil && !seen[k.id] {
			seen[k.id] = true
			out = append(out, k)
		}
	}
	return out
}

// LoadKeyring returns the keyring from SIPHON_MASTER_KEY (and
// SIPHON_MASTER_KEY_PREVIOUS) when set (lookup: nil for os.LookupEnv), else
// from the key file (DefaultKeyFile under configDir when file is empty).
// With create, a missing key file is made with one fresh random key, mode
// 0600; without it a missing key is an error, so commands that only read
// never invent a key that opens nothing.
func LoadKeyring(configDir, file string, create bool, lookup func(string) (string, bool)) (*Keyring, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if file == "" {
		file = filepath.Join(configDir, DefaultKeyFile)
	}
	r := &Keyring{}
	if v, ok := lookup(EnvMasterKey); ok && v != "" {
		r.source = EnvMasterKey
		r.load = func() ([]*MasterKey, error) { return keysFromEnv(lookup) }
	} else {
		r.source, r.file = "master key file "+file, file
		r.load = func() ([]*MasterKey, error) { return readKeyFile(file) }
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil, fmt.Errorf("no master key: set %s or create %s (siphon credentials set does)", EnvMasterKey, file)
			}
			if err := createKeyFile(file); err != nil {
				return nil, err
			}
		}
	}
	keys, err := r.load()
	if err != nil {
		return nil, err
	}
	if err := r.set(keys); err != nil {
		return nil, err
	}
	return r, nil
}

// keysFromEnv reads the current key and the previous ones from the
// environment. Errors name the variable and the key's position, never
// its text.
func keysFromEnv(lookup func(string) (string, bool)) ([]*MasterKey, error) {
	cur, _ := lookup(EnvMasterKey)
	k, err := DecodeMasterKey(cur, EnvMasterKey)
	if err != nil {
		return nil, err
	}
	keys := []*MasterKey{k}
	prev, _ := lookup(EnvPreviousKeys)
	for i, p := range strings.Split(prev, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, err := DecodeMasterKey(p, fmt.Sprintf("%s (key %d)", EnvPreviousKeys, i+1))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// readKeyFile reads a key file: one base64 key a line, newest first.
func readKeyFile(file string) ([]*MasterKey, error) {
	b, err := os.ReadFile(file)
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", file, err)
	}
	var keys []*MasterKey
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, err := DecodeMasterKeyBytes(line, fmt.Sprintf("master key %s line %d", file, i+1))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("master key %s: no key in the file", file)
	}
	return keys, nil
}

// createKeyFile makes a key file holding one fresh key. O_EXCL: two
// commands creating the key at once must not end up with credentials
// sealed under two different keys; the loser reads the winner's file.
func createKeyFile(file string) error {
	k, err := GenerateMasterKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("master key %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("master key %s: %w", file, err)
	}
	content := keyFileContent([]*MasterKey{k})
	defer clear(content)
	_, werr := f.Write(content)
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("master key %s: %w", file, werr)
	}
	return nil
}

// keyFileContent is a key file's bytes; the caller clears them.
func keyFileContent(keys []*MasterKey) []byte {
	var b bytes.Buffer
	b.WriteString("# siphon master keys, newest first: the first line seals, every line opens.\n")
	b.WriteString("# Written by siphon credentials rotate-master; keep this file mode 0600.\n")
	for _, k := range keys {
		line := make([]byte, 0, 45)
		line = appendBase64(line, k.key)
		b.Write(line)
		b.WriteByte('\n')
		clear(line)
	}
	out := append([]byte(nil), b.Bytes()...)
	// bytes.Buffer may have grown through copies Go frees without
	// clearing; the final buffer at least is cleared here.
	clear(b.Bytes()[:cap(b.Bytes())])
	return out
}

// writeKeyFile replaces the key file atomically (a new file renamed over
// the old, both synced), so a crash leaves the old ring or the new one,
// never a torn file that opens nothing.
func writeKeyFile(file string, keys []*MasterKey) error {
	content := keyFileContent(keys)
	defer clear(content)
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key %s: %w", file, err)
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("master key %s: %w", file, err)
	}
	tmp := file + ".new-" + hex.EncodeToString(suffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("master key %s: %w", file, err)
	}
	_, werr := f.Write(content)
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, file)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("master key %s: %w", file, werr)
	}
	if d, err := os.Open(dir); err == nil {
		werr = d.Sync()
		_ = d.Close()
	}
	if werr != nil {
		return fmt.Errorf("master key %s: sync directory: %w", file, werr)
	}
	return nil
}

func (r *Keyring) snapshot() []*MasterKey { return *r.keys.Load() }

// Current is the key that wraps.
func (r *Keyring) Current() *MasterKey { return r.snapshot()[0] }

// Keys are the ring's keys, the current one first.
func (r *Keyring) Keys() []*MasterKey { return append([]*MasterKey(nil), r.snapshot()...) }

// Source says where the keys come from (the variable or the file), for
// messages; it never holds key text.
func (r *Keyring) Source() string { return r.source }

// File is the key file, or "" when the environment gives the keys.
func (r *Keyring) File() string { return r.file }

// ID names the current key.
func (r *Keyring) ID() string { return r.Current().ID() }

// Wrap wraps under the current key.
func (r *Keyring) Wrap(ctx context.Context, dataKey []byte, context string) ([]byte, error) {
	return r.Current().Wrap(ctx, dataKey, context)
}

// WrapCurrent wraps under the current key and names it, from one view of
// the ring: a reload in between cannot pair one key's wrap with another's
// id.
func (r *Keyring) WrapCurrent(ctx context.Context, dataKey []byte, context string) ([]byte, string, error) {
	k := r.Current()
	w, err := k.Wrap(ctx, dataKey, context)
	return w, k.ID(), err
}

// Unwrap unwraps what the current key wrapped; Open finds other keys of
// the ring through KeyFor.
func (r *Keyring) Unwrap(ctx context.Context, wrapped []byte, context string) ([]byte, error) {
	return r.Current().Unwrap(ctx, wrapped, context)
}

// KeyFor returns the ring's key named id. A ring loaded from the
// environment or a file that does not hold it loads the ring again first:
// the key may have been added since (a rotation by another process).
func (r *Keyring) KeyFor(_ context.Context, id string) (KMS, error) {
	if k := find(r.snapshot(), id); k != nil {
		return k, nil
	}
	if r.load == nil {
		return nil, fmt.Errorf("key %s is not in the keyring: %w", id, ErrWrongKey)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Another caller may have reloaded while this one waited.
	if k := find(r.snapshot(), id); k != nil {
		return k, nil
	}
	keys, err := r.load()
	if err != nil {
		return nil, fmt.Errorf("reload the keyring for key %s: %w", id, err)
	}
	if err := r.set(keys); err != nil {
		return nil, err
	}
	if k := find(r.snapshot(), id); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("key %s is not in the keyring (%s): %w", id, r.source, ErrWrongKey)
}

func find(keys []*MasterKey, id string) *MasterKey {
	for _, k := range keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

// Replace writes keys (the current one first) to the key file and uses
// them from now on. A ring from the environment cannot be written: the
// operator changes the variables of every process instead.
func (r *Keyring) Replace(keys []*MasterKey) error {
	if r.file == "" {
		return fmt.Errorf("the master keys come from %s, which siphon cannot change: set the new key there and the old ones in %s on every process", r.source, EnvPreviousKeys)
	}
	keys = dedupe(keys)
	if len(keys) == 0 {
		return fmt.Errorf("%s: no master key to write", r.source)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := writeKeyFile(r.file, keys); err != nil {
		return err
	}
	return r.set(keys)
}

// String, GoString and LogValue show the ring's key ids and source only.
func (r *Keyring) String() string {
	var ids []string
	for _, k := range r.snapshot() {
		ids = append(ids, k.id)
	}
	return "keyring(" + strings.Join(ids, ",") + " from " + r.source + ")"
}

// GoString: see String.
func (r *Keyring) GoString() string { return r.String() }

// LogValue: see String.
func (r *Keyring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// LockKeyFile takes an exclusive lock beside the key file (FILE.lock), so
// two rotations on one host cannot both write a ring: the second would
// drop the first's new key while credentials are wrapped under it. It
// fails at once when another process holds the lock; the kernel releases
// it when the holder exits, however it exits.
func LockKeyFile(file string) (release func(), err error) {
	path := file + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another siphon credentials rotate-master holds %s: let it finish, then run again", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// Reload loads the ring again from its source (a fixed ring stays as it
// is), for a command that must act on the keys as they are now.
func (r *Keyring) Reload() error {
	if r.load == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	keys, err := r.load()
	if err != nil {
		return err
	}
	return r.set(keys)
}
