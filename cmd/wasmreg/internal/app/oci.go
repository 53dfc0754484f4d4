package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

const (
	flagPlainHTTP       = "plain-http"
	flagRegistryTimeout = "registry-timeout"
	flagOutput          = "output"
	flagKServeStorage   = "kserve-storage"
)

// ociClient returns a client whose store is DIR/oci under --cache-dir
// (owner-only), with Docker's credentials (config.json and its helpers),
// the module size limit and --registry-timeout.
func ociClient(cCtx *cli.Context, sizeLimit int) (*oci.Client, error) {
	dir := cCtx.String(flagCacheDir)
	if dir == "" {
		return nil, fmt.Errorf("an oci:// factory needs --%s for its local store", flagCacheDir)
	}
	store, err := oci.NewStore(filepath.Join(dir, "oci"))
	if err != nil {
		return nil, err
	}
	opts := []oci.Option{oci.WithPlainHTTP(cCtx.Bool(flagPlainHTTP)), oci.WithMaxLayerSize(int64(sizeLimit)),
		oci.WithTimeout(cCtx.Duration(flagRegistryTimeout))}
	if creds, err := credentials.NewStoreFromDocker(credentials.StoreOptions{}); err == nil {
		opts = append(opts, oci.WithCredentials(creds))
	} else {
		warnf(cCtx.App.ErrWriter, "docker credentials not read (anonymous requests): %s", oneLine(err.Error()))
	}
	return oci.New(store, opts...)
}

// registryErr says which flag bounds a registry operation that timed out.
func registryErr(err error) error {
	if errors.Is(err, oci.ErrTimeout) {
		return fmt.Errorf("%w (raise --%s or WASMREG_REGISTRY_TIMEOUT if the registry is slow)", err, flagRegistryTimeout)
	}
	return err
}

// ResolveFactoryRef is how every command turns an oci:// FACTORY argument
// into module bytes: a tag is resolved once, and the digest it resolved
// to is written to standard error and used from then on; a reference by
// digest is read from the local store when it is there, without asking
// any registry. The returned pin holds --sha256 (digest) and the pin of
// --dir's lock file: if --dir has a lock file, the reference must be
// listed in it (see lockKey), or it is refused before any registry is
// asked, unless --allow-unlocked; the module it names must then have the
// sha256 the lock lists, which the host that loads it checks. serve calls
// this for its oci:// factories too. It is safe for concurrent use if the
// cli.Context is not being changed.
func ResolveFactoryRef(cCtx *cli.Context, arg, digest string, sizeLimit int) (path string, wasm []byte, pin digestPin, err error) {
	ref, err := oci.ParseReference(arg)
	if err != nil {
		return "", nil, digestPin{}, err
	}
	pin = digestPin{sha256: digest}
	if !cCtx.Bool(flagAllowUnlocked) {
		dir := cCtx.String(flagDir)
		l, locked, err := readLock(dir)
		if err != nil {
			return "", nil, digestPin{}, err
		}
		key := lockKey(ref)
		if locked {
			if _, ok := l[key]; !ok {
				return "", nil, digestPin{}, fmt.Errorf("%w: %s is not in %s; pin it with 'wasmreg lock --%s %s %s', or pass --%s",
					errUnlockedRef, safetext.Line(key, maxLineShown), safetext.Line(filepath.Join(dir, LockFile), maxLineShown),
					flagDir, safetext.Line(dir, maxLineShown), safetext.Line(key, maxLineShown), flagAllowUnlocked)
			}
			pin.locks = []lockRef{{lock: l, file: key}}
		}
	}
	c, err := ociClient(cCtx, sizeLimit)
	if err != nil {
		return "", nil, digestPin{}, err
	}
	a, err := c.Pull(cCtx.Context, ref)
	if err != nil {
		return "", nil, digestPin{}, registryErr(err)
	}
	if ref.Digest == "" {
		fmt.Fprintf(cCtx.App.ErrWriter, "resolved %s to %s\n", safetext.Line(ref.String(), maxLineShown), a.Ref.Digest)
	}
	return a.Ref.String(), a.Wasm, pin, nil
}

// errUnlockedRef is an oci:// reference that a locked --dir does not list.
var errUnlockedRef = errors.New("unlocked reference")

// lockKey is the name a lock file pins a reference under. A tag is
// pinned without the digest a reference may add (the lock's sha256 is the
// one that counts), so that a pin survives a reference that adds one; a
// reference by digest alone is pinned as it is.
func lockKey(ref oci.Reference) string {
	if ref.Tag != "" {
		ref.Digest = ""
	}
	return ref.String()
}

// PushCommand returns `wasmreg push FILE.wasm REF`.
func PushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "validate a factory module and push it to an OCI registry",
		ArgsUsage: "FILE.wasm oci://HOST[:PORT]/REPO:TAG",
		Description: "push loads the module as 'wasmreg validate' does (a module that would not load is not\n" +
			"pushed), pushes it as a CNCF Wasm OCI artifact (docs/DISTRIBUTION.md) and prints\n" +
			"REF@sha256:DIGEST, the manifest's digest to pin. Credentials come from Docker's\n" +
			"config.json and its credential helpers; plain HTTP only for loopback or --" + flagPlainHTTP + ".\n\n" +
			"Examples:\n" +
			"   wasmreg push build/factories/mlp.wasm oci://127.0.0.1:5000/factories/mlp:1.0.0" + globalNote,
		Flags:           loadLimitFlags(),
		Action:          pushAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

func pushAction(cCtx *cli.Context) error {
	if cCtx.NArg() != 2 {
		return usageErrorf("push needs FILE.wasm and oci://HOST/REPO:TAG (see 'wasmreg push --help')")
	}
	path, arg := cCtx.Args().Get(0), cCtx.Args().Get(1)
	ref, err := oci.ParseReference(arg)
	if err != nil {
		return err
	}
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	f, h, err := loadForValidation(cCtx, scan, path)
	if h != nil {
		defer closeHost(cCtx, h)
	}
	if err != nil {
		return fmt.Errorf("not pushing %s: %w", path, err)
	}
	wasm, err := readModuleFile(path, scan.sizeLimit, true)
	if err != nil {
		return err
	}
	if host.Digest(wasm) != f.Digest() {
		return fmt.Errorf("not pushing %s: it changed while it was validated", path)
	}
	c, err := ociClient(cCtx, scan.sizeLimit)
	if err != nil {
		return err
	}
	info := f.Info()
	pushed, err := c.Push(cCtx.Context, ref, wasm, oci.Metadata{Name: info.Name, Version: info.Version,
		Description: info.Description, Capabilities: info.Capabilities, ABIVersion: host.ABIVersion})
	if err != nil {
		return registryErr(err)
	}
	fmt.Fprintln(cCtx.App.Writer, pushed.String())
	return nil
}

// PullCommand returns `wasmreg pull REF [-o FILE]`.
func PullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch a factory module from an OCI registry into the local store (and a file)",
		ArgsUsage: "oci://HOST[:PORT]/REPO:TAG|oci://HOST[:PORT]/REPO@sha256:DIGEST",
		Description: "pull fetches the module, verifies every blob against its digest, keeps it in the\n" +
			"store under --" + flagCacheDir + " and prints REF@sha256:DIGEST; with -o it writes the module too.\n\n" +
			"Examples:\n" +
			"   wasmreg pull oci://127.0.0.1:5000/factories/mlp:1.0.0 -o mlp.wasm" + globalNote,
		Flags: append(limitFlagsShowing(flagModuleLimit), &cli.StringFlag{Name: flagOutput, Aliases: []string{"o"},
			Usage: "write the module to this file (refused if it exists)"},
			&cli.BoolFlag{Name: flagKServeStorage,
				Usage: "act as KServe's storage initializer: take REF DIR and write DIR/" + KServeFactoryFile + " (docs/DEPLOY.md)"}),
		Action:          pullAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

// KServeFactoryFile is the name `wasmreg pull --kserve-storage REF DIR`
// gives the module in DIR, and the file the KServe runtime serves.
const KServeFactoryFile = "factory.wasm"

func pullAction(cCtx *cli.Context) error {
	out := cCtx.String(flagOutput)
	switch {
	case cCtx.Bool(flagKServeStorage):
		// KServe runs a storage initializer with the arguments STORAGE_URI
		// and the directory the model server reads (/mnt/models).
		if cCtx.NArg() != 2 || out != "" {
			return usageErrorf("pull --%s needs an oci:// reference and a directory, and no -o", flagKServeStorage)
		}
		out = filepath.Join(cCtx.Args().Get(1), KServeFactoryFile)
	case cCtx.NArg() != 1:
		return usageErrorf("pull needs one oci:// reference (see 'wasmreg pull --help')")
	}
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	ref, err := oci.ParseReference(cCtx.Args().First())
	if err != nil {
		return err
	}
	c, err := ociClient(cCtx, scan.sizeLimit)
	if err != nil {
		return err
	}
	a, err := c.Pull(cCtx.Context, ref)
	if err != nil {
		return registryErr(err)
	}
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("write pulled module: %w", err)
		}
		_, werr := f.Write(a.Wasm)
		if err := errors.Join(werr, f.Close()); err != nil {
			os.Remove(out)
			return fmt.Errorf("write pulled module %s: %w", out, err)
		}
	}
	fmt.Fprintf(cCtx.App.Writer, "%s (module sha256 %s)\n", a.Ref, strings.TrimPrefix(a.LayerDigest, "sha256:"))
	return nil
}
