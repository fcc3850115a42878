// Command imgtool writes container images without Docker: a docker-archive
// tarball (loadable by `docker load` and `ctr images import`) from files on
// disk, under the exact tags kubeadm and students ask for. Used by
// cluster-images/build.sh.
//
//	imgtool --out etcd.tar --tag registry.k8s.io/etcd:3.6.5-0 \
//	  --file /out/etcd:/usr/local/bin/etcd --entrypoint /usr/local/bin/etcd
//
// With --push-to HOST:PORT it also pushes each tag, registry host replaced,
// to that plain-HTTP registry (how the clusters' registry is seeded).
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imgtool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imgtool", flag.ContinueOnError)
	out := fs.String("out", "", "docker-archive tarball to write")
	var tags, files, layers, env, entry, cmd list
	fs.Var(&tags, "tag", "image reference (repeatable)")
	fs.Var(&layers, "layer", "a tar file used as a whole layer (repeatable, bottom first)")
	fs.Var(&files, "file", "SRC:DST[:MODE] put into the top layer (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE (repeatable)")
	fs.Var(&entry, "entrypoint", "entrypoint word (repeatable)")
	fs.Var(&cmd, "cmd", "cmd word (repeatable)")
	workdir := fs.String("workdir", "", "working directory")
	user := fs.String("user", "", "user")
	pushTo := fs.String("push-to", "", "also push every tag to this plain-HTTP registry (HOST:PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*out == "" && *pushTo == "") || len(tags) == 0 {
		return errors.New("--out or --push-to, and at least one --tag, are required")
	}
	img := empty.Image
	var adds []v1.Layer
	for _, l := range layers {
		l := l
		layer, err := tarball.LayerFromFile(l)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l, err)
		}
		adds = append(adds, layer)
	}
	if len(files) > 0 {
		layer, err := filesLayer(files)
		if err != nil {
			return err
		}
		adds = append(adds, layer)
	}
	img, err := mutate.AppendLayers(img, adds...)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cf.Config
	cfg.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cfg.Entrypoint, cfg.Cmd, cfg.WorkingDir, cfg.User = entry, cmd, *workdir, *user
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return err
	}
	img, err = mutate.ConfigFile(img, withPlatform(img))
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		ref, err := name.NewTag(t, name.WeakValidation)
		if err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
		refs[ref] = img
	}
	if *pushTo != "" {
		for ref := range refs {
			dst, err := name.NewTag(*pushTo+"/"+ref.Context().RepositoryStr()+":"+ref.Identifier(), name.Insecure)
			if err != nil {
				return err
			}
			if err := remote.Write(dst, img); err != nil {
				return fmt.Errorf("push %s: %w", dst, err)
			}
			fmt.Println("pushed", ref.Name())
		}
	}
	if *out == "" {
		return nil
	}
	return tarball.MultiRefWriteToFile(*out, refs)
}

func withPlatform(img v1.Image) *v1.ConfigFile {
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	return cf
}

// filesLayer builds one layer from SRC:DST[:MODE] entries, with parent
// directories, owned by root, with fixed times (reproducible digests).
func filesLayer(files []string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	mtime := time.Unix(0, 0)
	for _, f := range files {
		parts := strings.SplitN(f, ":", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("--file %q: want SRC:DST[:MODE]", f)
		}
		src, dst := parts[0], strings.TrimPrefix(parts[1], "/")
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		mode := int64(st.Mode().Perm())
		if len(parts) == 3 {
			if _, err := fmt.Sscanf(parts[2], "%o", &mode); err != nil {
				return nil, fmt.Errorf("--file %q: bad mode", f)
			}
		}
		for _, d := range sortedParents(dst) {
			if !written[d] {
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
					return nil, err
				}
				written[d] = true
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: mode, Size: int64(len(b)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func parentOf(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// sortedParents lists p's parent directories, outermost first.
func sortedParents(p string) []string {
	var out []string
	for d := parentOf(p); d != ""; d = parentOf(d) {
		out = append([]string{d}, out...)
	}
	return out
}
