package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// runCredentialsRotate re-seals one tenant's token under a fresh data key
// and nonce, wrapped by the current master key. The token is opened in
// memory only and cleared (secrets.Reseal).
func runCredentialsRotate(c *cli.Context) error {
	tg, err := credentialTarget(c)
	if err != nil {
		return err
	}
	t := tg.tenant
	ring, err := secrets.LoadKeyring(tg.config, "", false, nil)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	st = rewriteStore(st)
	defer st.Close()
	name := runtime.CredentialName(t)
	blob, err := st.Credential(c.Context, name)
	if errors.Is(err, state.ErrNotFound) {
		return &exitError{code: 1, msg: fmt.Sprintf("no credential stored for %s (as %q): run siphon credentials set %s", t.ID, name, t.ID)}
	}
	if err != nil {
		return fmt.Errorf("read credential %s: %w", name, err)
	}
	_, rereads, err := rewriteCredential(c.Context, st, name, blob, func(blob []byte) ([]byte, error) {
		sealed, err := secrets.Reseal(c.Context, ring, name, blob)
		if err != nil {
			return nil, &exitError{code: 1, msg: fmt.Sprintf("rotate the credential of %s: %v", t.ID, err)}
		}
		return sealed, nil
	})
	if errors.Is(err, errCredentialGone) {
		return &exitError{code: 1, msg: fmt.Sprintf("credential %s was deleted while it was re-sealed (a credentials delete?): it stays deleted; run siphon credentials set %s to store one", name, t.ID)}
	}
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("credential %s; master key %s", name, ring.ID())
	if rereads > 0 {
		fmt.Fprintf(c.App.Writer, "credential %s changed while it was re-sealed (a credentials set?): re-sealed the token it holds now\n", name)
		detail += "; read again after a concurrent change"
	}
	fmt.Fprintf(c.App.Writer, "re-sealed the token of %s (as %q) under a fresh data key, wrapped by master key %s\n", t.ID, name, ring.ID())
	return audit(c, tg, st, "credentials rotate", detail)
}

// maxRewriteRounds bounds how often a rewrite reads a credential again
// after losing to a concurrent write; each loss is another command's write
// landing between a read and a write milliseconds apart.
const maxRewriteRounds = 5

// errCredentialGone: the credential was deleted while it was rewritten.
var errCredentialGone = errors.New("credential deleted meanwhile")

// rewriteCredential writes next(blob) in place of blob, the credential
// as the caller read it, through SwapCredential: a credentials set or
// delete landing between the read and the write wins, never the rewrite
// of what it replaced. On a lost swap it reads the credential again and
// rewrites that (a set's fresh token, sealed under whichever master key
// that command loaded); a deleted credential stays deleted
// (errCredentialGone). next returns nil when there is nothing to write,
// and its errors come back as they are. rereads counts the lost swaps.
func rewriteCredential(ctx context.Context, st state.Store, name string, blob []byte, next func(blob []byte) ([]byte, error)) (wrote bool, rereads int, err error) {
	for {
		out, err := next(blob)
		if err != nil || out == nil {
			return false, rereads, err
		}
		ok, err := st.SwapCredential(ctx, name, blob, out)
		if err != nil {
			return false, rereads, fmt.Errorf("store credential %s: %w", name, err)
		}
		if ok {
			return true, rereads, nil
		}
		if rereads++; rereads >= maxRewriteRounds {
			return false, rereads, fmt.Errorf("credential %s changed %d times while it was rewritten: run the command again", name, rereads)
		}
		blob, err = st.Credential(ctx, name)
		if errors.Is(err, state.ErrNotFound) {
			return false, rereads, errCredentialGone
		}
		if err != nil {
			return false, rereads, fmt.Errorf("read credential %s again: %w", name, err)
		}
	}
}

// rewriteStore wraps the store rotate and rotate-master rewrite
// credentials through. Tests replace it to land another command's set or
// delete right before a rewrite's write, where a race is lost.
var rewriteStore = func(st state.Store) state.Store { return st }

// credRef is one stored credential of the configuration: its name, the
// tenants that use it, and a tenant of them to open its store by.
type credRef struct {
	name    string
	tenants []string
	via     *dsl.Tenant
}

// credGroups are the configuration's credentials by region (each region
// keeps its tenants' state, credentials included, in its own store); a
// name two tenants of one region share is one credential.
func credGroups(plan *dsl.Plan) [][]credRef {
	byRegion := map[string][]credRef{}
	var regions []string
	for _, t := range plan.Tenants {
		name := runtime.CredentialName(t)
		refs, seen := byRegion[t.Region]
		if !seen {
			regions = append(regions, t.Region)
		}
		found := false
		for i := range refs {
			if refs[i].name == name {
				refs[i].tenants = append(refs[i].tenants, t.ID)
				found = true
			}
		}
		if !found {
			refs = append(refs, credRef{name: name, tenants: []string{t.ID}, via: t})
		}
		byRegion[t.Region] = refs
	}
	sort.Strings(regions)
	out := make([][]credRef, 0, len(regions))
	for _, r := range regions {
		out = append(out, byRegion[r])
	}
	return out
}

// eachCredential opens each region's store once, in turn, and calls fn for
// every credential of the configuration kept there.
func eachCredential(c *cli.Context, base cmdArgs, plan *dsl.Plan, config string, fn func(st state.Store, ref credRef) error) error {
	for _, refs := range credGroups(plan) {
		tg := target{cmdArgs: base, plan: plan, tenant: refs[0].via}
		tg.config = config
		st, err := tg.open(c)
		if err != nil {
			return err
		}
		st = rewriteStore(st)
		for _, ref := range refs {
			if err := fn(st, ref); err != nil {
				st.Close()
				return err
			}
		}
		if err := st.Close(); err != nil {
			return fmt.Errorf("close the store: %w", err)
		}
	}
	return nil
}

// keySurvey is which key wraps each credential of the configuration.
type keySurvey struct {
	onCurrent, missing int
	onPrevious         []string // credential names wrapped by an older key of the ring
	unknown            []string // wrapped by no key of the ring, or unreadable
}

func surveyKeys(c *cli.Context, base cmdArgs, plan *dsl.Plan, config string, ring *secrets.Keyring) (keySurvey, error) {
	var s keySurvey
	inRing := map[string]bool{}
	for _, k := range ring.Keys() {
		inRing[k.ID()] = true
	}
	err := eachCredential(c, base, plan, config, func(st state.Store, ref credRef) error {
		blob, err := st.Credential(c.Context, ref.name)
		if errors.Is(err, state.ErrNotFound) {
			s.missing++
			return nil
		}
		if err != nil {
			return fmt.Errorf("read credential %s: %w", ref.name, err)
		}
		id, err := secrets.KeyIDOf(ref.name, blob)
		switch {
		case err != nil || !inRing[id]:
			s.unknown = append(s.unknown, ref.name)
		case id == ring.ID():
			s.onCurrent++
		default:
			s.onPrevious = append(s.onPrevious, ref.name)
		}
		return nil
	})
	return s, err
}

// runCredentialsRotateMaster rotates the hub's master key without stopping
// anything. Runners open each envelope with the key its KeyID names and
// load the key file again when they meet a key they do not hold, so they
// keep working while the data keys move to the new key one by one.
//
// A rotation is: write the key file with the new key first and the old
// ones kept (atomically), then re-wrap every credential still on an older
// key. A run that finds credentials still on an older key (a rotation a
// crash cut short) finishes that rotation instead of starting another, so
// running it again after a crash is always safe.
func runCredentialsRotateMaster(c *cli.Context) error {
	if c.NArg() != 0 {
		return &exitError{code: 1, msg: "credentials rotate-master takes no arguments (the configuration directory goes in --config)"}
	}
	if c.Bool("drop-old") && c.IsSet("new-key-file") {
		return &exitError{code: 1, msg: "--drop-old and --new-key-file are separate steps: rotate first, drop the old keys later"}
	}
	base := argsOf(c)
	config, plan, err := loadConfig(base.config)
	if err != nil {
		return err
	}
	ring, err := secrets.LoadKeyring(config, "", false, nil)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if ring.File() != "" {
		release, err := secrets.LockKeyFile(ring.File())
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		defer release()
		// Another rotation may have written the file since it was read.
		if err := ring.Reload(); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
	}
	var newKey *secrets.MasterKey
	if f := c.String("new-key-file"); f != "" {
		if newKey, err = readNewKey(c.App.Reader, f); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
	}
	survey, err := surveyKeys(c, base, plan, config, ring)
	if err != nil {
		return err
	}
	if c.Bool("drop-old") {
		return dropOldKeys(c, base, plan, config, ring, survey)
	}

	out := c.App.Writer
	detail := ""
	switch {
	case len(survey.onPrevious) > 0:
		// A rotation a crash cut short (or a new key put first in the ring
		// by hand, or rolled out through the environment): finish it.
		if newKey != nil && !newKey.Equal(ring.Current()) {
			return &exitError{code: 1, msg: fmt.Sprintf("%d credentials are still wrapped by older keys (%s): run siphon credentials rotate-master without --new-key-file first to finish moving them to %s",
				len(survey.onPrevious), listSome(survey.onPrevious), ring.ID())}
		}
		fmt.Fprintf(out, "finishing the move to master key %s: %d credentials are still wrapped by older keys\n", ring.ID(), len(survey.onPrevious))
		detail = "finished the move to " + ring.ID()
	case newKey != nil && newKey.Equal(ring.Current()):
		fmt.Fprintf(out, "master key %s is already the current key and every credential is wrapped by it\n", ring.ID())
		detail = "checked " + ring.ID()
	case ring.File() == "":
		if newKey != nil {
			return &exitError{code: 1, msg: envRotationHelp(ring)}
		}
		fmt.Fprintf(out, "every credential is already wrapped by the current key %s of %s\n%s\n", ring.ID(), ring.Source(), envRotationHelp(ring))
		return nil
	default:
		for _, k := range ring.Keys()[1:] {
			if newKey != nil && newKey.Equal(k) {
				return &exitError{code: 1, msg: fmt.Sprintf("the new key is %s, an older key of the ring: give a key never used before", k.ID())}
			}
		}
		if newKey == nil {
			if newKey, err = secrets.GenerateMasterKey(); err != nil {
				return err
			}
		}
		old := ring.Keys()
		if err := ring.Replace(append([]*secrets.MasterKey{newKey}, old...)); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		fmt.Fprintf(out, "wrote master key %s first in %s (older keys kept to open: %s)\n", newKey.ID(), ring.File(), keyIDs(old))
		detail = fmt.Sprintf("new master key %s, replacing %s", newKey.ID(), old[0].ID())
	}

	var moved, already, missing, failed, raced int
	err = eachCredential(c, base, plan, config, func(st state.Store, ref credRef) error {
		blob, err := st.Credential(c.Context, ref.name)
		if errors.Is(err, state.ErrNotFound) {
			missing++
			return nil
		}
		if err != nil {
			return fmt.Errorf("read credential %s: %w", ref.name, err)
		}
		// A set racing this one may have sealed its token under the key
		// it loaded, the new one or an older one: the round after a lost
		// swap re-wraps it, or finds it on the new key already.
		wrote, rereads, err := rewriteCredential(c.Context, st, ref.name, blob, func(blob []byte) ([]byte, error) {
			re, changed, err := secrets.Rewrap(c.Context, ring, ref.name, blob)
			if err != nil || !changed {
				return nil, err
			}
			return re, nil
		})
		if rereads > 0 {
			raced++
		}
		switch {
		case errors.Is(err, errCredentialGone):
			missing++
			fmt.Fprintf(out, "credential %s (tenants %s) was deleted while it was re-wrapped (a credentials delete?): it stays deleted\n", ref.name, strings.Join(ref.tenants, ", "))
			return nil
		case err != nil:
			failed++
			fmt.Fprintf(c.App.ErrWriter, "siphon: credential %s (tenants %s): %v\n", ref.name, strings.Join(ref.tenants, ", "), err)
			return nil
		case rereads > 0:
			fmt.Fprintf(out, "credential %s (tenants %s) changed while it was re-wrapped (a credentials set?): read it again\n", ref.name, strings.Join(ref.tenants, ", "))
		}
		if wrote {
			moved++
		} else {
			already++
		}
		return nil
	})
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("re-wrapped %d credentials under %s; %d already on it; %d tenants' credentials not stored; %d failed", moved, ring.ID(), already, missing, failed)
	if raced > 0 {
		summary += fmt.Sprintf("; %d read again after a concurrent set or delete", raced)
	}
	fmt.Fprintln(out, summary)
	if err := hubAudit(c, base, plan, config, "credentials rotate-master", detail+"; "+summary); err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d credentials could not be re-wrapped (above); the others are done: fix those (siphon credentials set) and run rotate-master again", failed)}
	}
	if len(ring.Keys()) > 1 {
		fmt.Fprintln(out, "older keys stay in the ring until siphon credentials rotate-master --drop-old removes them")
	}
	return nil
}

// dropOldKeys removes every key but the current one, after checking that
// no credential of the configuration is wrapped by one of them.
func dropOldKeys(c *cli.Context, base cmdArgs, plan *dsl.Plan, config string, ring *secrets.Keyring, s keySurvey) error {
	out := c.App.Writer
	old := ring.Keys()[1:]
	if len(s.onPrevious) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("nothing dropped: %d credentials are still wrapped by older keys (%s): run siphon credentials rotate-master first",
			len(s.onPrevious), listSome(s.onPrevious))}
	}
	if len(s.unknown) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "siphon: warning: %d credentials are wrapped by no key of the ring and open with none (%s): set them again with siphon credentials set\n",
			len(s.unknown), listSome(s.unknown))
	}
	if len(old) == 0 {
		fmt.Fprintf(out, "the ring holds only the current key %s: nothing to drop\n", ring.ID())
		return nil
	}
	if ring.File() == "" {
		fmt.Fprintf(out, "no credential is wrapped by the keys in %s (%s): remove it from every process's environment\n", secrets.EnvPreviousKeys, keyIDs(old))
		return hubAudit(c, base, plan, config, "credentials rotate-master --drop-old", "checked that no credential uses "+keyIDs(old))
	}
	if err := ring.Replace([]*secrets.MasterKey{ring.Current()}); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	fmt.Fprintf(out, "dropped the older keys %s from %s; %s is the only key\n", keyIDs(old), ring.File(), ring.ID())
	return hubAudit(c, base, plan, config, "credentials rotate-master --drop-old", fmt.Sprintf("dropped %s; current %s", keyIDs(old), ring.ID()))
}

// hubAudit writes a hub-wide entry to the hub's audit log.
func hubAudit(c *cli.Context, base cmdArgs, plan *dsl.Plan, config, action, detail string) error {
	st, err := openStoreIn(c, base.store, plan, config)
	if err != nil {
		return err
	}
	defer st.Close()
	return audit(c, target{}, st, action, detail)
}

// envRotationHelp says how to rotate a master key the environment gives.
func envRotationHelp(ring *secrets.Keyring) string {
	return fmt.Sprintf("the master key comes from %s, which siphon cannot change: to rotate, set the new key in %s and the current one (%s) in %s on every process, "+
		"then run siphon credentials rotate-master to re-wrap the credentials, and later --drop-old",
		ring.Source(), secrets.EnvMasterKey, ring.ID(), secrets.EnvPreviousKeys)
}

// readNewKey reads the new master key from a file or stdin ("-"). The
// bytes read are cleared; errors name the file, never its content.
func readNewKey(stdin io.Reader, file string) (*secrets.MasterKey, error) {
	var b []byte
	var err error
	where := "--new-key-file " + file
	if file == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		where = "the new key on stdin"
		b, err = io.ReadAll(io.LimitReader(stdin, 4096))
	} else {
		b, err = os.ReadFile(file)
	}
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return secrets.DecodeMasterKeyBytes(b, where)
}

func keyIDs(keys []*secrets.MasterKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID()
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// listSome names up to five items, then how many more.
func listSome(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}
