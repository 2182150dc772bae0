package deploy

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The DAG bundle, exactly as astro-ci builds it (code-deploys.md A.3):
//
//   - a gzipped tar whose entries are "dags/" and "dags/<path relative to
//     the DAG folder>", forward slashes, directories before what they hold,
//     in lexical order (filepath.WalkDir), PAX format for long or non-ASCII
//     names;
//   - regular files with their content, mode 0644 (0755 when any execute
//     bit is set) and modification time (Airflow's DAG processor looks at
//     it), owner 0:0 and no user or group names;
//   - symbolic links as links, with their target unchanged when it is
//     relative and stays inside the DAG folder, rewritten to the relative
//     form when it is absolute and inside; a link whose target leaves the
//     DAG folder is refused (Airflow 3 rejects them);
//   - left out, at any depth: .git (directory or file), __pycache__,
//     *.pyc, *.pyo and .DS_Store. .airflowignore is an ordinary file and
//     stays (Airflow reads it);
//   - sockets, devices and named pipes are refused;
//   - a folder with no file (after the exclusions) is refused unless
//     AllowEmpty: deploying it deletes every DAG of the Deployment;
//   - the uncompressed content is bounded (TarOptions.MaxBytes, default
//     512 MiB) and so is the number of entries (MaxFiles, default 100,000).

// TarOptions bound and shape a DAG bundle.
type TarOptions struct {
	AllowEmpty bool
	MaxBytes   int64 // uncompressed file content; default 512 MiB
	MaxFiles   int   // entries; default 100,000
}

// TarStats describe a built bundle.
type TarStats struct {
	Files   int   // regular files and symlinks
	Bytes   int64 // uncompressed file content
	Entries []string
}

// Defaults of TarOptions.
const (
	DefaultMaxBytes = 512 << 20
	DefaultMaxFiles = 100_000
)

// ErrEmptyDags is returned for a DAG folder with no file.
var ErrEmptyDags = errors.New("the DAG folder has no file: deploying it would delete every DAG of the Deployment; pass --allow-empty to do that on purpose")

func ignored(name string, dir bool) bool {
	switch {
	case name == ".git", name == ".DS_Store":
		return true
	case dir && name == "__pycache__":
		return true
	case !dir && (strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo")):
		return true
	}
	return false
}

// BuildTarball writes the gzipped bundle of the DAG folder dir to w.
func BuildTarball(dir string, opts TarOptions, w io.Writer) (TarStats, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return TarStats{}, fmt.Errorf("DAG folder %q: %w", dir, err)
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return TarStats{}, fmt.Errorf("DAG folder %s does not exist: pass the folder that holds your DAGs with --dags-path", dir)
		}
		return TarStats{}, fmt.Errorf("DAG folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return TarStats{}, fmt.Errorf("DAG folder %s is not a directory", dir)
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	var st TarStats
	add := func(h *tar.Header) error {
		if len(st.Entries) >= opts.MaxFiles {
			return fmt.Errorf("the DAG folder %s has more than %d entries: leave out what Airflow does not need (data files belong in include/ or object storage)", dir, opts.MaxFiles)
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.Format = tar.FormatPAX
		h.AccessTime, h.ChangeTime = h.ModTime, h.ModTime
		st.Entries = append(st.Entries, h.Name)
		return tw.WriteHeader(h)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading the DAG folder: %w", err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := "dags"
		if rel != "." {
			if ignored(d.Name(), d.IsDir()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			name = "dags/" + filepath.ToSlash(rel)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		mod := info.ModTime().UTC().Truncate(1e9)
		switch m := info.Mode(); {
		case m.IsDir():
			return add(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: mod})
		case m&fs.ModeSymlink != 0:
			target, err := linkTarget(root, p)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			st.Files++
			return add(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mod})
		case m.IsRegular():
			size := info.Size()
			if st.Bytes+size > opts.MaxBytes {
				return fmt.Errorf("the DAG folder %s holds more than %d MiB: leave out large files (data belongs in include/ or object storage)", dir, opts.MaxBytes>>20)
			}
			perm := int64(0o644)
			if m&0o111 != 0 {
				perm = 0o755
			}
			if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: perm, ModTime: mod}); err != nil {
				return err
			}
			f, err := openSame(p, info)
			if errors.Is(err, errChanged) {
				return fmt.Errorf("%s %w", name, err)
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			defer f.Close()
			// A file that grows while it is read is cut at its size; one
			// that shrinks fails the bundle rather than shipping a hole.
			n, err := io.Copy(tw, io.LimitReader(f, size))
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			if n != size {
				return fmt.Errorf("%s %w", name, errChanged)
			}
			st.Files++
			st.Bytes += size
			return nil
		default:
			return fmt.Errorf("%s is not a regular file, directory or symbolic link (%s): remove it from the DAG folder", name, m.Type())
		}
	})
	if err != nil {
		return st, err
	}
	if st.Files == 0 && !opts.AllowEmpty {
		return st, ErrEmptyDags
	}
	if err := tw.Close(); err != nil {
		return st, err
	}
	return st, gz.Close()
}

// errChanged: an entry of the DAG folder is no longer what the walk saw.
var errChanged = errors.New("changed while the DAG bundle was being built; run again")

// openSame opens p for reading only if it is still the regular file the
// walk saw as info: the entry may have been swapped since (for a link out
// of the folder, or for a FIFO whose open would wait for a writer forever,
// past any --deadline). On unix the open neither follows a symbolic link
// nor waits on a FIFO (openFlags); the opened file must then be a regular
// file and os.SameFile as info. Anything else is errChanged.
func openSame(p string, info fs.FileInfo) (*os.File, error) {
	f, err := os.OpenFile(p, openFlags, 0) //nolint:gosec // G122: no link followed, then checked against the walk's Lstat (os.SameFile)
	if err != nil {
		// A link now at p fails the open (ELOOP, or EMLINK/EFTYPE on some
		// BSDs); a removed file fails it too: both are a change.
		if li, lerr := os.Lstat(p); lerr != nil || !os.SameFile(li, info) {
			return nil, errChanged
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !os.SameFile(fi, info) {
		_ = f.Close()
		return nil, errChanged
	}
	return f, nil
}

// linkTarget returns the link text of symlink p for the bundle, refusing a
// target outside root.
func linkTarget(root, p string) (string, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(filepath.Dir(p), target)
	}
	abs = filepath.Clean(abs)
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("the symbolic link points outside the DAG folder (to %q), which Airflow refuses: copy the file into the folder instead", target)
	}
	if filepath.IsAbs(target) {
		r, err := filepath.Rel(filepath.Dir(p), abs)
		if err != nil {
			return "", err
		}
		return filepath.ToSlash(r), nil
	}
	return path.Clean(filepath.ToSlash(target)), nil
}
