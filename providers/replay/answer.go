package replay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pullkeys/pullkeys/cache"
)

// AnswersDir is the directory of saved answers inside the cache directory.
const AnswersDir = "answers"

// formatVersion is the version of the answer file layout.
const formatVersion = 1

// maxAnswerSize bounds what is read of an answer or a cache entry file.
const maxAnswerSize = 1 << 20

// maxAge is how long an answer file is kept: longer than any token's fresh time (ECR tokens
// last 12 hours, Google access tokens one).
const maxAge = 24 * time.Hour

// durationField is what precedes the cacheDuration value in a response. JSON strings cannot
// hold a bare quote, so this text, quotes included, can only be the field itself.
const durationField = `"cacheDuration":"`

// answerFile is the on-disk form of a saved answer, <key>.json in AnswersDir.
type answerFile struct {
	Version int    `json:"version"`
	Key     string `json:"key"`
	// Head and Tail are the full plugin's output before and after the cacheDuration value.
	Head string `json:"head"`
	Tail string `json:"tail"`
	// Entry is the file name of the cache entry the answer came from, Digest the SHA-256
	// of its bytes then, FreshUntil when it stops being fresh.
	Entry      string    `json:"entry"`
	Digest     string    `json:"digest"`
	FreshUntil time.Time `json:"freshUntil"`
	// Truncate is the unit the provider truncates its cacheDuration to (0: none).
	Truncate time.Duration `json:"truncate"`
	// Files, for an answer derived from files: Head is the whole answer, replayed as it is
	// while the files are as they were, until FreshUntil (a day after it was saved).
	Files []fileDep `json:"files,omitempty"`
}

// fileDep is the on-disk form of a File.
type fileDep struct {
	Path   string      `json:"path"`
	Absent bool        `json:"absent,omitempty"`
	Digest string      `json:"digest,omitempty"`
	Mode   fs.FileMode `json:"mode,omitempty"`
}

// holds reports whether the file is as it was.
func (f fileDep) holds() bool {
	if f.Absent {
		_, err := os.Stat(f.Path)
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return false
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(file, maxAnswerSize+1)); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == f.Digest
}

// render returns the answer at now, or false once the entry is no longer fresh.
func (a *answerFile) render(now time.Time) ([]byte, bool) {
	if !now.Before(a.FreshUntil) {
		return nil, false
	}
	if a.Files != nil {
		return []byte(a.Head), true
	}
	dur := a.FreshUntil.Sub(now).Truncate(max(a.Truncate, 1)).String()
	out := make([]byte, 0, len(a.Head)+len(dur)+len(a.Tail))
	out = append(out, a.Head...)
	out = append(out, dur...)
	return append(out, a.Tail...), true
}

// Errors of Save, for errors.Is.
var (
	// ErrNotReplayable: the answer cannot be replayed (not exactly one source recorded for
	// it, or the output is not what its cache entry gives).
	ErrNotReplayable = errors.New("answer not replayable")
)

// save writes the answer to the invocation named key, derived from the source in rec, as
// out: what the full plugin wrote, whose cacheDuration is d (-1: none).
func save(key string, rec record, out []byte, d time.Duration) error {
	if rec.files != nil {
		return saveFiles(key, rec, out)
	}
	s := rec.stamp
	if s == nil || s.Dir == "" {
		return fmt.Errorf("%w: the cache entry is not in a cache directory", ErrNotReplayable)
	}
	if want := rec.freshFor.Truncate(max(rec.truncate, 1)); d != want {
		return fmt.Errorf("%w: cacheDuration %s is not the entry's fresh time left, %s", ErrNotReplayable, d, want)
	}
	// Cut around the value: Head + d.String() + Tail is out, byte for byte.
	dur := []byte(durationField + d.String() + `"`)
	i := bytes.Index(out, dur)
	if i < 0 || bytes.Count(out, []byte(durationField)) != 1 {
		return fmt.Errorf("%w: cacheDuration not found once in the answer", ErrNotReplayable)
	}
	a := answerFile{
		Version:    formatVersion,
		Key:        key,
		Head:       string(out[:i+len(durationField)]),
		Tail:       string(out[i+len(dur)-1:]),
		Entry:      s.File,
		Digest:     hex.EncodeToString(s.Digest[:]),
		FreshUntil: s.FreshUntil,
		Truncate:   rec.truncate,
	}
	return store(s.Dir, a)
}

// saveFiles saves an answer derived from files.
func saveFiles(key string, rec record, out []byte) error {
	a := answerFile{Version: formatVersion, Key: key, Head: string(out), FreshUntil: time.Now().Add(maxAge),
		Files: make([]fileDep, 0, len(rec.files))}
	for _, f := range rec.files {
		dep := fileDep{Path: f.Path, Absent: f.Absent}
		if !f.Absent {
			dep.Digest, dep.Mode = hex.EncodeToString(f.Digest[:]), f.Mode.Perm()
		}
		a.Files = append(a.Files, dep)
	}
	if err := cache.PrepareDir(rec.dir); err != nil {
		return err
	}
	return store(rec.dir, a)
}

// store writes a into the answers directory of the cache directory dir.
func store(cacheDir string, a answerFile) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := checkDir(cacheDir); err != nil {
		return err
	}
	dir := filepath.Join(cacheDir, AnswersDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	prune(dir, time.Now())
	// Not durable: an answer lost in a crash is only an answer the full plugin gives again.
	return cache.WriteFile(filepath.Join(dir, a.Key+".json"), data, false)
}

// prune removes answers and temporary files older than maxAge.
func prune(dir string, now time.Time) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") && !strings.Contains(e.Name(), ".json.tmp-") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && now.Sub(fi.ModTime()) > maxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Lookup returns the saved answer to the invocation named key in the cache directory dir, as
// the full plugin would give it at now, or false when there is none to replay: no answer,
// a cache entry changed or gone, no longer fresh, a directory or file that is not safe.
func Lookup(dir, key string, now time.Time) ([]byte, bool) {
	if dir == "" || !isKey(key) || checkDir(dir) != nil {
		return nil, false
	}
	answers := filepath.Join(dir, AnswersDir)
	if checkDir(answers) != nil {
		return nil, false
	}
	data, err := readFile(filepath.Join(answers, key+".json"))
	if err != nil {
		return nil, false
	}
	var a answerFile
	if json.Unmarshal(data, &a) != nil || a.Version != formatVersion || a.Key != key {
		return nil, false
	}
	if a.Files != nil {
		for _, f := range a.Files {
			if !f.holds() {
				return nil, false
			}
		}
		return a.render(now)
	}
	if a.Entry == "" || a.Entry != filepath.Base(a.Entry) || a.Entry == "." || a.Entry == ".." ||
		a.Truncate < 0 || !strings.HasSuffix(a.Head, durationField) {
		return nil, false
	}
	entry, err := readFile(filepath.Join(dir, a.Entry))
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(entry)
	if hex.EncodeToString(sum[:]) != a.Digest {
		return nil, false
	}
	return a.render(now)
}

// isKey reports whether s has the form of a Key.
func isKey(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// readFile reads a regular file of at most maxAnswerSize bytes without following a symlink
// or blocking on a FIFO.
func readFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if err := checkOwner(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAnswerSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAnswerSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxAnswerSize)
	}
	return data, nil
}

// checkDir refuses a directory that is a symlink, is owned by another user or is open to
// group or others.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := checkOwner(fi); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && privateModes {
		return fmt.Errorf("%s has mode %o, open to group or others", dir, perm)
	}
	return nil
}
