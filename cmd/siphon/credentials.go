package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	flags := []cli.Flag{configFlag(), storeFlag(), unsafeStoreFlag()}
	commands = append(commands, &cli.Command{
		Name:  "credentials",
		Usage: "store, re-seal or remove a tenant's source token, sealed with the hub's master key; rotate the master key",
		Subcommands: []*cli.Command{
			{
				Name:      "set",
				Usage:     "read TENANT's token from stdin, seal it and store it (clears an auth pause)",
				ArgsUsage: "TENANT",
				Flags:     flags,
				Action:    runCredentialsSet,
			},
			{
				Name:      "delete",
				Usage:     "remove TENANT's stored token",
				ArgsUsage: "TENANT",
				Flags:     flags,
				Action:    runCredentialsDelete,
			},
			{
				Name:      "rotate",
				Usage:     "re-seal TENANT's token under a fresh data key (the token stays the same)",
				ArgsUsage: "TENANT",
				Flags:     flags,
				Action:    runCredentialsRotate,
			},
			{
				Name: "rotate-master",
				Usage: "put a new master key first in the keyring (old keys kept to open) and re-wrap every tenant's data key " +
					"under it; run again after a crash to finish; --drop-old later removes the old keys once nothing uses them",
				Flags: append(append([]cli.Flag(nil), flags...),
					&cli.StringFlag{Name: "new-key-file", Usage: "take the new master key (base64 of 32 bytes) from `FILE` (- for stdin) instead of generating one"},
					&cli.BoolFlag{Name: "drop-old", Usage: "remove the previous keys from the key file, once no tenant's credential is wrapped by them"},
				),
				Action: runCredentialsRotateMaster,
			},
		},
	})
}

// credentialTarget loads the configuration and finds the tenant named on
// the command line.
func credentialTarget(c *cli.Context) (target, error) {
	a := argsOf(c)
	if len(a.args) != 1 {
		return target{cmdArgs: a}, &exitError{code: 1, msg: "credentials " + c.Command.Name + " takes one TENANT (the configuration directory goes in --config)"}
	}
	tg, err := loadTarget(a)
	if err == nil && tg.tenant == nil {
		err = &exitError{code: 1, msg: fmt.Sprintf("no tenant %q in %s", a.args[0], tg.config)}
	}
	return tg, err
}

func runCredentialsSet(c *cli.Context) error {
	tg, err := credentialTarget(c)
	if err != nil {
		return err
	}
	t := tg.tenant
	token, err := readToken(c.App.Reader)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	defer clear(token)
	kms, err := secrets.LoadKeyring(tg.config, "", true, nil)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	name := runtime.CredentialName(t)
	sealed, err := secrets.Seal(c.Context, kms, name, token)
	clear(token)
	if err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.PutCredential(c.Context, name, sealed); err != nil {
		return fmt.Errorf("store credential %s: %w", name, err)
	}
	fmt.Fprintf(c.App.Writer, "stored the sealed token of %s (as %q)\n", t.ID, name)
	flags, err := st.Flags(c.Context, t.ID)
	if err != nil {
		return fmt.Errorf("flags of %s: %w", t.ID, err)
	}
	for _, f := range flags {
		if f.Kind == state.FlagAuthPaused {
			if err := st.ClearFlag(c.Context, t.ID, state.FlagAuthPaused, ""); err != nil {
				return fmt.Errorf("clear auth pause of %s: %w", t.ID, err)
			}
			fmt.Fprintf(c.App.Writer, "cleared the auth pause of %s (was: %s)\n", t.ID, f.Reason)
		}
	}
	return audit(c, tg, st, "credentials set", "credential "+name)
}

func runCredentialsDelete(c *cli.Context) error {
	tg, err := credentialTarget(c)
	if err != nil {
		return err
	}
	t := tg.tenant
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	name := runtime.CredentialName(t)
	if err := st.DeleteCredential(c.Context, name); err != nil {
		return fmt.Errorf("delete credential %s: %w", name, err)
	}
	fmt.Fprintf(c.App.Writer, "deleted the token of %s (as %q)\n", t.ID, name)
	return audit(c, tg, st, "credentials delete", "credential "+name)
}

// maxToken bounds what credentials set reads from stdin.
const maxToken = 64 << 10

// readToken reads the token: the first line of stdin, trimmed. It is read
// into one buffer this function owns (no growing copies left behind) and
// cleared there; the caller clears the returned bytes once sealed. It is
// never echoed or logged.
func readToken(r io.Reader) ([]byte, error) {
	if r == nil {
		r = os.Stdin
	}
	buf := make([]byte, maxToken)
	defer clear(buf)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if bytes.IndexByte(buf[n-m:n], '\n') >= 0 || err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the token from stdin: %w", err)
		}
	}
	line := buf[:n]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if n == len(buf) {
		return nil, fmt.Errorf("the token on stdin is longer than %d bytes", maxToken)
	}
	tok := bytes.TrimSpace(line)
	if len(tok) == 0 {
		return nil, fmt.Errorf("no token on stdin: pipe it in, e.g. siphon credentials set acme < token.txt")
	}
	return append([]byte(nil), tok...), nil
}

// audit records an operator action on tg.tenant in st, the store the
// tenant's state lives in: the tenant's own log and that store's hub log.
// A target without a tenant records a hub-wide action in st, the hub
// store. A tenant of a region with a store of its own keeps its log there,
// and the hub store's hub log gets an entry too, naming the tenant and its
// region and holding none of its keys: siphon audit on the hub lists every
// action, also once the tenant is offboarded and its own log purged.
//
// That hub entry carries detail only. tenantData are the parts that may
// quote the tenant's own data (a pause reason with a record's mapping
// error, its organization at the source): they are added to detail in the
// tenant's store, where its data lives anyway, and never leave its region.
func audit(c *cli.Context, tg target, st state.Store, action, detail string, tenantData ...string) error {
	e := state.AuditEntry{At: time.Now().UTC(), Who: operatorName(), Action: action, Detail: detail}
	if tg.tenant == nil {
		if err := st.AppendAudit(c.Context, e); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		return nil
	}
	e.Tenant = tg.tenant.ID
	own := e
	for _, d := range tenantData {
		if own.Detail != "" {
			own.Detail += "; "
		}
		own.Detail += d
	}
	if err := st.AppendAudit(c.Context, own); err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Tenant, action, err)
	}
	if _, regional := runtime.RegionStore(tg.plan, tg.tenant.Region); !regional {
		return nil
	}
	notHub := func(err error) error {
		return fmt.Errorf("audit %s %s: recorded in region %s's store, not in the hub's: %w", e.Tenant, action, tg.tenant.Region, err)
	}
	hubURL, err := storeURL(tg.store, tg.plan, tg.config)
	if err != nil {
		return notHub(err)
	}
	// A region store that is the hub's under another spelling (which run
	// refuses) already has the entry in its hub log.
	u, err := tenantStoreURL(tg.store, tg.plan, tg.tenant, tg.config)
	if err != nil {
		return notHub(err)
	}
	if storeKey(u) == storeKey(hubURL) {
		return nil
	}
	hub, err := openStoreURL(c, hubURL, false)
	if err != nil {
		return notHub(err)
	}
	defer hub.Close()
	e.Region = tg.tenant.Region
	if err := hub.AppendAudit(c.Context, e); err != nil {
		return notHub(err)
	}
	return nil
}

// cmdArgs are a command's positional arguments and the flags the
// configuration-reading commands share.
type cmdArgs struct {
	args          []string
	config, store string
	json          bool
}

func argsOf(c *cli.Context) cmdArgs {
	return cmdArgs{args: c.Args().Slice(), config: c.String("config"), store: c.String("store"), json: c.Bool("json")}
}
