package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// ErrTooLarge means a file is bigger than the caller would read.
var ErrTooLarge = errors.New("file too large")

// ReadFile copies a file out of one of cluster's node containers through
// the engine's archive API (docker cp), running nothing in the node: what
// it reads does not depend on the node's binaries, which a student may
// have replaced. Symlinks are followed inside the container's filesystem.
// A missing file is fs.ErrNotExist; one over limit bytes, ErrTooLarge.
func (m *Manager) ReadFile(ctx context.Context, cluster, node, file string, limit int64) ([]byte, error) {
	n, err := m.node(cluster, node)
	if err != nil {
		return nil, err
	}
	if !path.IsAbs(file) {
		return nil, fmt.Errorf("path %q: want an absolute path", file)
	}
	var stderr bytes.Buffer
	cmd := m.docker(ctx, "cp", "-L", n.String()+":"+path.Clean(file), "-")
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", file, node, err)
	}
	data, readErr := firstFile(out, file, limit)
	if readErr == nil {
		_, _ = io.CopyN(io.Discard, out, 1<<20) // the archive's end: let docker finish writing
	} else {
		// A directory, a device or a huge file: stop copying it.
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	msg := strings.TrimSpace(stderr.String())
	switch {
	case waitErr != nil && (strings.Contains(msg, "Could not find the file") || strings.Contains(msg, "No such file")):
		return nil, fmt.Errorf("%s on %s: %w", file, node, fs.ErrNotExist)
	case waitErr != nil && readErr == nil:
		return nil, fmt.Errorf("reading %s on %s: %w: %s", file, node, waitErr, msg)
	case readErr != nil:
		return nil, fmt.Errorf("reading %s on %s: %w", file, node, readErr)
	}
	return data, nil
}

// firstFile reads the regular file a single-file tar stream holds.
func firstFile(r io.Reader, name string, limit int64) ([]byte, error) {
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("archive of %s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if hdr.Size > limit {
		return nil, fmt.Errorf("%s has %d bytes, over %d: %w", name, hdr.Size, limit, ErrTooLarge)
	}
	return io.ReadAll(io.LimitReader(tr, limit))
}
