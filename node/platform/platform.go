// Package platform keeps the registry of signing platforms allowed to
// submit evidence: their names, the SHA-256 of their API keys (never the
// keys), and their quotas. The registry is a small JSON file in the data
// directory, written atomically under a lock, so `evidencectl platform
// add`, `rotate` and `revoke` work whether or not the node is running. A
// running node watches the file and applies every change within a second
// (WatchInterval); a key whose grace period ends is refused at that moment.
//
// A revoked platform stays in the file, marked with the time, so its
// records stay attributed to it and its name is not given to another.
package platform

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evidence-node/evidence-node/node/store"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// FileName is the registry's file name inside the data directory.
const FileName = "platforms.json"

// KeyPrefix starts every API key, so a leaked key is recognisable.
const KeyPrefix = "evk_"

// WatchInterval is how often a running Registry looks at its file.
const WatchInterval = 200 * time.Millisecond

// Errors.
var (
	ErrExists      = errors.New("platform already exists")
	ErrUnknownKey  = errors.New("unknown or revoked API key")
	ErrBadPeriod   = errors.New("period must look like 1y, 6mo, 4w, 30d or 24h")
	ErrNotPlatform = errors.New("no such platform")
	ErrRevoked     = errors.New("platform is revoked")
	ErrBadGrace    = errors.New("grace period must not be negative")
	// ErrBroken is a registry file that cannot be used (not JSON, a bad
	// name or key hash, a name or key listed twice).
	ErrBroken = errors.New("broken platform registry")
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
	// Rotated is when the current key was made by Rotate (zero: the key
	// of Add).
	Rotated time.Time `json:"rotated,omitzero"`
	// Retired are earlier keys still accepted until their grace period
	// ends.
	Retired []RetiredKey `json:"retired_keys,omitempty"`
	// Revoked is when the platform was revoked (zero: active). Every key
	// of a revoked platform is refused.
	Revoked time.Time `json:"revoked,omitzero"`
	// Webhook is where the node tells the platform of its records'
	// outcomes (nil: nowhere).
	Webhook *Webhook `json:"webhook,omitempty"`
}

// Webhook is a platform's webhook endpoint and the secret its deliveries
// are signed with (Standard Webhooks: "whsec_" and the base64 key). The
// registry file is readable by the node's user alone (0600).
type Webhook struct {
	URL    string    `json:"url"`
	Secret string    `json:"secret"`
	Set    time.Time `json:"set"`
}

// ErrWebhookURL is a webhook URL the node will not call.
var ErrWebhookURL = errors.New("webhook URL must be http(s)://host[:port][/path], without user, query or fragment")

// SetWebhook points the platform's webhook at rawURL with a new secret,
// returned once (it is stored for signing; a new call replaces both).
// An empty rawURL removes the webhook. ErrNotPlatform, ErrRevoked,
// ErrWebhookURL.
func SetWebhook(dataDir, name, rawURL string, now time.Time) (string, error) {
	var secret string
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(rawURL) > 2048 {
			return "", fmt.Errorf("%w: %q", ErrWebhookURL, rawURL)
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		secret = "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	err := update(dataDir, func(f *file) error {
		p, err := f.find(name)
		if err != nil {
			return err
		}
		if !p.Revoked.IsZero() {
			return fmt.Errorf("%w: %q since %s", ErrRevoked, name, p.Revoked.Format(time.RFC3339))
		}
		p.Webhook = nil
		if rawURL != "" {
			p.Webhook = &Webhook{URL: rawURL, Secret: secret, Set: now.UTC()}
		}
		return nil
	})
	return secret, err
}

// RetiredKey is a key replaced by Rotate, accepted until Until.
type RetiredKey struct {
	KeyHash string    `json:"key_hash"`
	KeyHint string    `json:"key_hint"`
	Until   time.Time `json:"until"`
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

// MaxFileSize bounds the registry file (about 50,000 platforms).
const MaxFileSize = 16 << 20

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check returns an ErrBroken error for a registry that cannot be used.
func (f *file) check() error {
	names := map[string]bool{}
	hashes := map[string]string{}
	useHash := func(name, h string) error {
		if !hashRE.MatchString(h) {
			return fmt.Errorf("%w: platform %q: key_hash %q is not a hex SHA-256", ErrBroken, name, h)
		}
		if other, ok := hashes[h]; ok {
			return fmt.Errorf("%w: platforms %q and %q share a key", ErrBroken, other, name)
		}
		hashes[h] = name
		return nil
	}
	for _, p := range f.Platforms {
		if err := evidence.ValidatePlatform(p.Name); err != nil {
			return fmt.Errorf("%w: %w", ErrBroken, err)
		}
		if names[p.Name] {
			return fmt.Errorf("%w: platform %q is listed twice", ErrBroken, p.Name)
		}
		names[p.Name] = true
		if err := useHash(p.Name, p.KeyHash); err != nil {
			return err
		}
		for _, k := range p.Retired {
			if err := useHash(p.Name, k.KeyHash); err != nil {
				return err
			}
		}
		if p.Period != "" {
			if _, err := ParsePeriod(p.Period); err != nil {
				return fmt.Errorf("%w: platform %q: %w", ErrBroken, p.Name, err)
			}
		}
	}
	return nil
}

func readFile(path string) (file, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return file{Version: 1}, nil
	}
	if err != nil {
		return file{}, fmt.Errorf("platform: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return file{}, fmt.Errorf("platform: %w", err)
	}
	if len(b) > MaxFileSize {
		return file{}, fmt.Errorf("platform: %s: %w: larger than %d bytes", path, ErrBroken, MaxFileSize)
	}
	var reg file
	if err := json.Unmarshal(b, &reg); err != nil {
		return file{}, fmt.Errorf("platform: %s: %w: %w", path, ErrBroken, err)
	}
	if err := reg.check(); err != nil {
		return file{}, fmt.Errorf("platform: %s: %w", path, err)
	}
	return reg, nil
}

// entry is one accepted API key.
type entry struct {
	hash [sha256.Size]byte
	p    *Platform
	// until ends a retired key's grace period; zero for a current key.
	until time.Time
}

// snapshot is one version of the registry, never changed once published.
type snapshot struct {
	keys      map[[sha256.Size]byte]entry
	platforms []Platform // in file order
}

func newSnapshot(f file) *snapshot {
	s := &snapshot{keys: map[[sha256.Size]byte]entry{}, platforms: f.Platforms}
	for i := range s.platforms {
		p := &s.platforms[i]
		if !p.Revoked.IsZero() {
			continue
		}
		add := func(h string, until time.Time) {
			var k entry
			hex.Decode(k.hash[:], []byte(h)) // checked by file.check
			k.p, k.until = p, until
			s.keys[k.hash] = k
		}
		add(p.KeyHash, time.Time{})
		for _, r := range p.Retired {
			add(r.KeyHash, r.Until)
		}
	}
	return s
}

// stamp identifies a version of the registry file: an atomic rename
// makes another file (inode), an edit in place changes its size or
// modification time. The zero stamp is an absent file.
type stamp struct{ fi fs.FileInfo }

func stat(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, fmt.Errorf("platform: %w", err)
	}
	return stamp{fi}, nil
}

func (s stamp) exists() bool { return s.fi != nil }

func (s stamp) same(t stamp) bool {
	if s.fi == nil || t.fi == nil {
		return s.fi == t.fi
	}
	return os.SameFile(s.fi, t.fi) && s.fi.Size() == t.fi.Size() && s.fi.ModTime().Equal(t.fi.ModTime())
}

// Registry is the platform registry of one data directory, kept up to
// date with its file until Close. Safe for concurrent use.
type Registry struct {
	path   string
	now    func() time.Time
	logger *slog.Logger

	snap atomic.Pointer[snapshot]

	opened      time.Time    // the origin of lastRecheck (monotonic)
	lastRecheck atomic.Int64 // nanoseconds since opened

	mu    sync.Mutex // guards stamp and err
	stamp stamp
	err   error

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Option configures a Registry.
type Option func(*Registry)

// WithLogger sets where a Registry reports changes to its file and files
// it cannot use (slog.Default() if unset).
func WithLogger(l *slog.Logger) Option { return func(r *Registry) { r.logger = l } }

// WithClock sets the clock that ends grace periods (time.Now if unset).
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// Open reads the registry in dataDir (an absent file is an empty registry)
// and watches its file every WatchInterval until Close: a change is in
// effect within a second, a new key at once (an unknown key makes the
// registry look at its file). A file that cannot be used is an error here;
// later, the last good registry stays in effect and the error is logged
// and returned by Err.
func Open(dataDir string, opts ...Option) (*Registry, error) {
	r := &Registry{path: filepath.Join(dataDir, FileName), now: time.Now, logger: slog.Default(), opened: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	r.lastRecheck.Store(-int64(recheckEvery))
	st, err := stat(r.path)
	if err != nil {
		return nil, err
	}
	f, err := readFile(r.path)
	if err != nil {
		return nil, err
	}
	r.stamp = st
	r.snap.Store(newSnapshot(f))
	go r.watch()
	return r, nil
}

// Close stops watching the file; the registry keeps its last contents.
func (r *Registry) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return nil
}

func (r *Registry) watch() {
	defer close(r.done)
	t := time.NewTicker(WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.Check()
		}
	}
}

// Check re-reads the file if it changed since it was last read; the
// watcher calls it every WatchInterval. It returns Err.
func (r *Registry) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := stat(r.path)
	if err != nil {
		r.fail(err, false)
		return r.err
	}
	if st.same(r.stamp) {
		return r.err
	}
	if !st.exists() {
		r.stamp = st
		r.snap.Store(newSnapshot(file{}))
		r.err = nil
		r.logger.Warn(fmt.Sprintf("platform registry %s was removed: no platform is accepted", r.path), "component", "platforms")
		return nil
	}
	// Read after stat: a change after the stat makes a new stamp, read
	// at the next check.
	f, err := readFile(r.path)
	if err != nil {
		broken := errors.Is(err, ErrBroken)
		if broken {
			r.stamp = st // read again when the file changes; other errors at the next check
		}
		r.fail(err, broken)
		return r.err
	}
	r.stamp = st
	r.snap.Store(newSnapshot(f))
	r.err = nil
	active := 0
	for _, p := range f.Platforms {
		if p.Revoked.IsZero() {
			active++
		}
	}
	r.logger.Info(fmt.Sprintf("platform registry %s reloaded: %d platforms, %d active", r.path, len(f.Platforms), active), "component", "platforms")
	return nil
}

// fail records err, logging it when it is about a new version of the
// file or the registry was fine until now.
func (r *Registry) fail(err error, newFile bool) {
	if newFile || r.err == nil {
		r.logger.Error(fmt.Sprintf("platform registry: %v; keeping the last good registry (%d platforms) until the file is fixed",
			err, len(r.snap.Load().platforms)), "component", "platforms")
	}
	r.err = err
}

// Err returns why the registry file as it is now is not in effect (nil
// when it is): the last good registry is kept meanwhile.
func (r *Registry) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Authenticate returns the platform whose API key this is, or
// ErrUnknownKey: for a key never issued, a revoked platform's key, a
// removed platform's key, and a retired key past its grace period (at the
// moment the period ends).
func (r *Registry) Authenticate(apiKey string) (Platform, error) {
	h := sha256.Sum256([]byte(apiKey))
	k, ok := r.snap.Load().keys[h]
	if !ok && r.recheck() {
		k, ok = r.snap.Load().keys[h]
	}
	if !ok || subtle.ConstantTimeCompare(k.hash[:], h[:]) != 1 {
		return Platform{}, ErrUnknownKey
	}
	if !k.until.IsZero() && !r.now().Before(k.until) {
		return Platform{}, ErrUnknownKey
	}
	return *k.p, nil
}

// recheckEvery bounds how often unknown keys make the registry look at
// its file.
const recheckEvery = time.Millisecond

// recheck looks at the file now (at most every recheckEvery, however many
// unknown keys arrive), so a key added while the node runs works at once
// rather than at the next watch; it reports whether the registry changed.
func (r *Registry) recheck() bool {
	now := int64(time.Since(r.opened))
	last := r.lastRecheck.Load()
	if now-last < int64(recheckEvery) || !r.lastRecheck.CompareAndSwap(last, now) {
		return false
	}
	before := r.snap.Load()
	r.Check()
	return r.snap.Load() != before
}

// List returns all platforms, revoked ones included, in the order they
// were added.
func (r *Registry) List() []Platform {
	return slices.Clone(r.snap.Load().platforms)
}

// Find returns the platform called name as the registry last read it.
func (r *Registry) Find(name string) (Platform, bool) {
	for _, p := range r.snap.Load().platforms {
		if p.Name == name {
			return p, true
		}
	}
	return Platform{}, false
}

// update changes the registry file in dataDir under its lock, atomically.
func update(dataDir string, change func(*file) error) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	unlock, err := lock(filepath.Join(dataDir, FileName+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(dataDir, FileName)
	f, err := readFile(path)
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	f.Version = 1
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	if err := store.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("platform: %w", err)
	}
	return nil
}

// find returns the platform called name, or ErrNotPlatform.
func (f *file) find(name string) (*Platform, error) {
	for i := range f.Platforms {
		if f.Platforms[i].Name == name {
			return &f.Platforms[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNotPlatform, name)
}

// Add registers a platform in dataDir and returns its new API key, which
// is shown once and never stored. quota 0 means no cap; period defaults to
// 1y when a quota is set. The name of a revoked platform is taken
// (ErrExists).
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
	var key string
	var p Platform
	err := update(dataDir, func(f *file) error {
		if old, err := f.find(name); err == nil {
			if !old.Revoked.IsZero() {
				return fmt.Errorf("%w: %q (revoked %s; a revoked name is not reused)", ErrExists, name, old.Revoked.Format(time.RFC3339))
			}
			return fmt.Errorf("%w: %q", ErrExists, name)
		}
		var err error
		if key, err = NewKey(); err != nil {
			return err
		}
		p = Platform{Name: name, KeyHash: HashKey(key), KeyHint: hint(key), Created: now.UTC().Format(time.RFC3339), Quota: quota, Period: period}
		f.Platforms = append(f.Platforms, p)
		return nil
	})
	if err != nil {
		return "", Platform{}, err
	}
	return key, p, nil
}

func hint(key string) string { return key[:len(KeyPrefix)+4] }

// Rotate gives the platform called name a new API key, returned once and
// never stored. The current key stays accepted for grace after now (0:
// refused at once); earlier retired keys keep their own ends, and those
// already ended are dropped. ErrNotPlatform, ErrRevoked, ErrBadGrace.
func Rotate(dataDir, name string, grace time.Duration, now time.Time) (string, Platform, error) {
	if grace < 0 {
		return "", Platform{}, fmt.Errorf("%w: %v", ErrBadGrace, grace)
	}
	now = now.UTC()
	var key string
	var out Platform
	err := update(dataDir, func(f *file) error {
		p, err := f.find(name)
		if err != nil {
			return err
		}
		if !p.Revoked.IsZero() {
			return fmt.Errorf("%w: %q since %s", ErrRevoked, name, p.Revoked.Format(time.RFC3339))
		}
		if key, err = NewKey(); err != nil {
			return err
		}
		retired := p.Retired[:0:0]
		for _, k := range p.Retired {
			if now.Before(k.Until) {
				retired = append(retired, k)
			}
		}
		if grace > 0 {
			retired = append(retired, RetiredKey{KeyHash: p.KeyHash, KeyHint: p.KeyHint, Until: now.Add(grace)})
		}
		p.Retired = retired
		p.KeyHash, p.KeyHint, p.Rotated = HashKey(key), hint(key), now
		out = *p
		return nil
	})
	if err != nil {
		return "", Platform{}, err
	}
	return key, out, nil
}

// Revoke marks the platform called name revoked at now: all its keys are
// refused from then on. The entry stays, so its records stay attributed
// and its name is not reused. ErrNotPlatform, ErrRevoked.
func Revoke(dataDir, name string, now time.Time) (Platform, error) {
	var out Platform
	err := update(dataDir, func(f *file) error {
		p, err := f.find(name)
		if err != nil {
			return err
		}
		if !p.Revoked.IsZero() {
			return fmt.Errorf("%w: %q since %s", ErrRevoked, name, p.Revoked.Format(time.RFC3339))
		}
		p.Revoked, p.Retired = now.UTC(), nil
		out = *p
		return nil
	})
	return out, err
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
