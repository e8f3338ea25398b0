// Package platform keeps the registry of signing platforms allowed to
// submit evidence: their names, the SHA-256 of their API keys (never the
// keys), and their quotas. The registry is a small JSON file in the data
// directory, written atomically, so `evidencectl platform add` works
// whether or not the node is running; the node re-reads it when it sees a
// key it does not know.
package platform

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evidence-node/evidence-node/node/store"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// FileName is the registry's file name inside the data directory.
const FileName = "platforms.json"

// KeyPrefix starts every API key, so a leaked key is recognisable.
const KeyPrefix = "evk_"

// Errors.
var (
	ErrExists      = errors.New("platform already exists")
	ErrUnknownKey  = errors.New("unknown or revoked API key")
	ErrBadPeriod   = errors.New("period must look like 1y, 6mo, 4w, 30d or 24h")
	ErrNotPlatform = errors.New("no such platform")
)

// Platform is one registered platform.
type Platform struct {
	Name    string `json:"name"`
	KeyHash string `json:"key_hash"` // hex SHA-256 of the API key
	KeyHint string `json:"key_hint"` // the key's first characters, for humans
	Created string `json:"created"`  // RFC 3339
	// Quota caps the records the platform may submit per Period; 0 means
	// no cap.
	Quota  int64  `json:"quota,omitempty"`
	Period string `json:"period,omitempty"`
}

// Period is a calendar period: years, months and days, or an exact duration.
type Period struct {
	Years, Months, Days int
	Exact               time.Duration
}

var periodRE = regexp.MustCompile(`^(\d+)(y|mo|w|d|h)$`)

// ParsePeriod parses "1y", "6mo", "4w", "30d", "24h".
func ParsePeriod(s string) (Period, error) {
	m := periodRE.FindStringSubmatch(strings.TrimSpace(strings.ToLower(s)))
	if m == nil {
		return Period{}, fmt.Errorf("%w: %q", ErrBadPeriod, s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 100000 {
		return Period{}, fmt.Errorf("%w: %q", ErrBadPeriod, s)
	}
	switch m[2] {
	case "y":
		return Period{Years: n}, nil
	case "mo":
		return Period{Months: n}, nil
	case "w":
		return Period{Days: 7 * n}, nil
	case "d":
		return Period{Days: n}, nil
	}
	return Period{Exact: time.Duration(n) * time.Hour}, nil
}

func (p Period) add(t time.Time, k int) time.Time {
	if p.Exact > 0 {
		return t.Add(time.Duration(k) * p.Exact)
	}
	return t.AddDate(k*p.Years, k*p.Months, k*p.Days)
}

// Window returns the quota window [start, end) holding now for a platform
// created at created.
func (p Period) Window(created, now time.Time) (time.Time, time.Time) {
	if now.Before(created) {
		return created, p.add(created, 1)
	}
	// Estimate k, then correct (calendar periods vary in length).
	approx := p.add(created, 1).Sub(created)
	k := 0
	if approx > 0 {
		k = int(now.Sub(created) / approx)
	}
	for k > 0 && p.add(created, k).After(now) {
		k--
	}
	for !p.add(created, k+1).After(now) {
		k++
	}
	return p.add(created, k), p.add(created, k+1)
}

// HashKey returns the hex SHA-256 of an API key.
func HashKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// NewKey returns a new random API key: KeyPrefix and 52 base32 characters
// (256 bits).
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return KeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

type file struct {
	Version   int        `json:"v"`
	Platforms []Platform `json:"platforms"`
}

// Registry is the platform registry of one data directory. Safe for
// concurrent use.
type Registry struct {
	path string

	mu      sync.RWMutex
	byHash  map[string]Platform
	byName  map[string]Platform
	modTime time.Time
	checked time.Time
}

// Open reads the registry in dataDir (an absent file is an empty registry).
func Open(dataDir string) (*Registry, error) {
	r := &Registry{path: filepath.Join(dataDir, FileName)}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) reload() error {
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		r.mu.Lock()
		r.byHash, r.byName = map[string]Platform{}, map[string]Platform{}
		r.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	f, err := readFile(r.path)
	if err != nil {
		return err
	}
	byHash, byName := map[string]Platform{}, map[string]Platform{}
	for _, p := range f.Platforms {
		byHash[p.KeyHash] = p
		byName[p.Name] = p
	}
	r.mu.Lock()
	r.byHash, r.byName, r.modTime = byHash, byName, fi.ModTime()
	r.mu.Unlock()
	return nil
}

func readFile(path string) (file, error) {
	var f file
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return file{Version: 1}, nil
	}
	if err != nil {
		return f, fmt.Errorf("platform: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("platform: %s: %w", path, err)
	}
	return f, nil
}

// Authenticate returns the platform whose API key this is. An unknown key
// makes the registry re-read its file (at most once a second), so keys
// added while the node runs work at once.
func (r *Registry) Authenticate(key string) (Platform, error) {
	h := HashKey(key)
	r.mu.RLock()
	p, ok := r.byHash[h]
	r.mu.RUnlock()
	if ok && subtle.ConstantTimeCompare([]byte(p.KeyHash), []byte(h)) == 1 {
		return p, nil
	}
	r.mu.Lock()
	stale := time.Since(r.checked) > time.Second
	if stale {
		r.checked = time.Now()
	}
	r.mu.Unlock()
	if stale {
		if fi, err := os.Stat(r.path); err == nil && !fi.ModTime().Equal(r.modTime) {
			if err := r.reload(); err != nil {
				return Platform{}, err
			}
			r.mu.RLock()
			p, ok = r.byHash[h]
			r.mu.RUnlock()
			if ok {
				return p, nil
			}
		}
	}
	return Platform{}, ErrUnknownKey
}

// List returns all platforms.
func (r *Registry) List() []Platform {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Platform, 0, len(r.byName))
	for _, p := range r.byName {
		out = append(out, p)
	}
	return out
}

// Add registers a platform in dataDir and returns its new API key, which
// is shown once and never stored. quota 0 means no cap; period defaults to
// 1y when a quota is set.
func Add(dataDir, name string, quota int64, period string, now time.Time) (string, Platform, error) {
	if err := evidence.ValidatePlatform(name); err != nil {
		return "", Platform{}, err
	}
	if quota < 0 {
		return "", Platform{}, errors.New("quota must not be negative")
	}
	if quota > 0 && period == "" {
		period = "1y"
	}
	if period != "" {
		if _, err := ParsePeriod(period); err != nil {
			return "", Platform{}, err
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", Platform{}, fmt.Errorf("platform: %w", err)
	}
	unlock, err := lock(filepath.Join(dataDir, FileName+".lock"))
	if err != nil {
		return "", Platform{}, err
	}
	defer unlock()
	path := filepath.Join(dataDir, FileName)
	f, err := readFile(path)
	if err != nil {
		return "", Platform{}, err
	}
	for _, p := range f.Platforms {
		if p.Name == name {
			return "", Platform{}, fmt.Errorf("%w: %q", ErrExists, name)
		}
	}
	key, err := NewKey()
	if err != nil {
		return "", Platform{}, err
	}
	p := Platform{Name: name, KeyHash: HashKey(key), KeyHint: key[:len(KeyPrefix)+4], Created: now.UTC().Format(time.RFC3339), Quota: quota, Period: period}
	f.Version = 1
	f.Platforms = append(f.Platforms, p)
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := store.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return "", Platform{}, fmt.Errorf("platform: %w", err)
	}
	return key, p, nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("platform: lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
