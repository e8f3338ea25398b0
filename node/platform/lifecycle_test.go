package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// within reports whether cond holds within d, polling.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a log destination the watcher and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func open(t *testing.T, dir string, opts ...Option) *Registry {
	t.Helper()
	r, err := Open(dir, append([]Option{WithLogger(slog.New(slog.NewTextHandler(&syncBuffer{}, nil)))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func accepted(r *Registry, key string) bool { _, err := r.Authenticate(key); return err == nil }

func mustAdd(t *testing.T, dir, name string) string {
	t.Helper()
	key, _, err := Add(dir, name, 0, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestRevoke: a revoked platform's key is refused within a second by a
// running registry; the entry stays, marked, and its name stays taken.
func TestRevoke(t *testing.T) {
	dir := t.TempDir()
	acme, beta := mustAdd(t, dir, "acme"), mustAdd(t, dir, "beta")
	r := open(t, dir)
	if !accepted(r, acme) || !accepted(r, beta) {
		t.Fatal("keys not accepted")
	}
	at := date("2026-12-01T08:00:00Z")
	p, err := Revoke(dir, "acme", at)
	if err != nil || !p.Revoked.Equal(at) {
		t.Fatalf("Revoke: %+v %v", p, err)
	}
	if !within(time.Second, func() bool { return !accepted(r, acme) }) {
		t.Fatal("a revoked key still accepted after 1 s")
	}
	if _, err := r.Authenticate(acme); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("revoked key: %v", err)
	}
	if !accepted(r, beta) {
		t.Fatal("another platform's key refused")
	}
	list := r.List()
	if len(list) != 2 || list[0].Name != "acme" || !list[0].Revoked.Equal(at) || !list[1].Revoked.IsZero() {
		t.Fatalf("List: %+v", list)
	}
	if _, err := Revoke(dir, "acme", at); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoking twice: %v", err)
	}
	if _, _, err := Rotate(dir, "acme", 0, at); !errors.Is(err, ErrRevoked) {
		t.Errorf("rotating a revoked platform: %v", err)
	}
	if _, _, err := Add(dir, "acme", 0, "", at); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("re-adding a revoked name: %v", err)
	}
	if _, err := Revoke(dir, "nobody", at); !errors.Is(err, ErrNotPlatform) {
		t.Errorf("revoking an unknown platform: %v", err)
	}
	// A registry opened later refuses the key too.
	if accepted(open(t, dir), acme) {
		t.Fatal("a revoked key accepted after a restart")
	}
}

// TestRotate: after a rotation the new key works at once, the old one
// until the grace period ends (to the nanosecond of the registry's clock)
// and never after; --grace 0 refuses it at once.
func TestRotate(t *testing.T) {
	dir := t.TempDir()
	old := mustAdd(t, dir, "acme")
	other := mustAdd(t, dir, "beta")
	t0 := date("2026-12-01T08:00:00Z")
	var clock atomic.Pointer[time.Time]
	setClock := func(t time.Time) { clock.Store(&t) }
	setClock(t0)
	r := open(t, dir, WithClock(func() time.Time { return *clock.Load() }))

	key1, p, err := Rotate(dir, "acme", 24*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	if key1 == old || p.KeyHash != HashKey(key1) || len(p.Retired) != 1 || !p.Retired[0].Until.Equal(t0.Add(24*time.Hour)) || !p.Rotated.Equal(t0) {
		t.Fatalf("Rotate: %+v", p)
	}
	if !within(time.Second, func() bool { return accepted(r, key1) }) {
		t.Fatal("the new key not accepted within 1 s")
	}
	for _, tc := range []struct {
		at       time.Time
		old, new bool
	}{
		{t0, true, true},
		{t0.Add(24*time.Hour - time.Nanosecond), true, true},
		{t0.Add(24 * time.Hour), false, true},
		{t0.Add(48 * time.Hour), false, true},
	} {
		setClock(tc.at)
		if got := accepted(r, old); got != tc.old {
			t.Errorf("at %s: old key accepted %v, want %v", tc.at, got, tc.old)
		}
		if got := accepted(r, key1); got != tc.new {
			t.Errorf("at %s: new key accepted %v, want %v", tc.at, got, tc.new)
		}
	}

	// A second rotation keeps the first retired key until its own end.
	setClock(t0.Add(time.Hour))
	key2, p, err := Rotate(dir, "acme", time.Hour, t0.Add(time.Hour))
	if err != nil || len(p.Retired) != 2 {
		t.Fatalf("second Rotate: %+v %v", p, err)
	}
	if !within(time.Second, func() bool { return accepted(r, key2) }) {
		t.Fatal("the second new key not accepted within 1 s")
	}
	if !accepted(r, old) || !accepted(r, key1) {
		t.Fatal("retired keys refused inside their grace periods")
	}
	setClock(t0.Add(2 * time.Hour))
	if accepted(r, key1) || !accepted(r, old) || !accepted(r, key2) {
		t.Fatal("after the second grace period: want key1 refused, the first key and key2 accepted")
	}

	// Rotating with no grace refuses the current key at once and drops
	// retired keys that ended.
	key3, p, err := Rotate(dir, "acme", 0, t0.Add(30*time.Hour))
	if err != nil || len(p.Retired) != 0 {
		t.Fatalf("Rotate --grace 0: %+v %v", p, err)
	}
	if !within(time.Second, func() bool { return accepted(r, key3) }) {
		t.Fatal("key3 not accepted within 1 s")
	}
	setClock(t0.Add(time.Hour)) // even with the clock back, key2 is gone
	if accepted(r, key2) {
		t.Fatal("a key rotated with no grace still accepted")
	}
	if !accepted(r, other) {
		t.Fatal("another platform's key refused")
	}
	if _, _, err := Rotate(dir, "acme", -time.Second, t0); !errors.Is(err, ErrBadGrace) {
		t.Errorf("negative grace: %v", err)
	}
	if _, _, err := Rotate(dir, "nobody", time.Hour, t0); !errors.Is(err, ErrNotPlatform) {
		t.Errorf("rotating an unknown platform: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, k := range []string{old, key1, key2, key3} {
		if strings.Contains(string(b), k) {
			t.Fatal("the registry holds a key, not only its hash")
		}
	}
}

// TestRemovedAndDeleted: a platform removed from the file by hand, or the
// whole file deleted, is refused within a second.
func TestRemovedAndDeleted(t *testing.T) {
	dir := t.TempDir()
	acme, beta := mustAdd(t, dir, "acme"), mustAdd(t, dir, "beta")
	r := open(t, dir)
	path := filepath.Join(dir, FileName)
	var f file
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f.Platforms = f.Platforms[1:] // drop acme, edit in place
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { return !accepted(r, acme) }) {
		t.Fatal("a removed platform's key still accepted after 1 s")
	}
	if !accepted(r, beta) || len(r.List()) != 1 {
		t.Fatalf("beta: accepted %v, %d platforms", accepted(r, beta), len(r.List()))
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { return !accepted(r, beta) }) {
		t.Fatal("a key still accepted 1 s after the registry file was deleted")
	}
	if len(r.List()) != 0 || r.Err() != nil {
		t.Fatalf("deleted file: %d platforms, err %v", len(r.List()), r.Err())
	}
	gamma := mustAdd(t, dir, "gamma")
	if !within(time.Second, func() bool { return accepted(r, gamma) }) {
		t.Fatal("a platform added after the file was deleted not accepted within 1 s")
	}
}

// TestLifecycleConcurrent: concurrent adds, rotations and revocations lose
// no platform and no change.
func TestLifecycleConcurrent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 8; i++ {
		mustAdd(t, dir, fmt.Sprintf("old%d", i))
	}
	r := open(t, dir)
	last := make([]string, 4) // the last key of old0..old3, rotated 5 times each
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			if _, _, err := Add(dir, fmt.Sprintf("new%d", i), 0, "", time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			for j := 0; j < 5; j++ {
				k, _, err := Rotate(dir, fmt.Sprintf("old%d", i), time.Hour, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				last[i] = k
			}
		})
		wg.Go(func() {
			if _, err := Revoke(dir, fmt.Sprintf("old%d", 4+i), time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	check := func(r *Registry) bool {
		list := r.List()
		if len(list) != 16 {
			return false
		}
		revoked := 0
		for _, p := range list {
			if !p.Revoked.IsZero() {
				revoked++
				if !strings.HasPrefix(p.Name, "old") || p.Name < "old4" {
					return false
				}
			}
			if p.Name < "old4" && strings.HasPrefix(p.Name, "old") && len(p.Retired) != 5 {
				return false
			}
		}
		for _, k := range last {
			if !accepted(r, k) {
				return false
			}
		}
		return revoked == 4
	}
	if !check(open(t, dir)) {
		t.Fatalf("after concurrent changes: %+v", open(t, dir).List())
	}
	if !within(time.Second, func() bool { return check(r) }) {
		t.Fatalf("the running registry did not follow within 1 s: %+v", r.List())
	}
}

// TestBrokenWhileRunning: a registry file broken while the node runs keeps
// the last good registry in effect, says so in the log and in Err, and
// refuses changes through Add; a fixed file is applied.
func TestBrokenWhileRunning(t *testing.T) {
	dir := t.TempDir()
	acme := mustAdd(t, dir, "acme")
	path := filepath.Join(dir, FileName)
	good, _ := os.ReadFile(path)
	var logs syncBuffer
	r := open(t, dir, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for _, bad := range []string{
		"{not json",
		strings.Replace(string(good), `"acme"`, `"Acme"`, 1),
		strings.Replace(string(good), `"key_hash": "`, `"key_hash": "zz`, 1),
		strings.Replace(string(good), `"platforms": [`, `"platforms": [`+platformJSON(t, good)+",", 1), // acme twice
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if !within(time.Second, func() bool { return r.Err() != nil }) {
			t.Fatalf("a broken registry not reported within 1 s:\n%s", bad)
		}
		if !errors.Is(r.Err(), ErrBroken) {
			t.Fatalf("Err: %v", r.Err())
		}
		if !accepted(r, acme) || len(r.List()) != 1 {
			t.Fatal("the last good registry was not kept")
		}
		if _, _, err := Add(dir, "beta", 0, "", time.Now()); !errors.Is(err, ErrBroken) {
			t.Fatalf("Add to a broken registry: %v", err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrBroken) {
			t.Fatalf("Open of a broken registry: %v", err)
		}
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
		if !within(time.Second, func() bool { return r.Err() == nil }) {
			t.Fatalf("a fixed registry not applied within 1 s: %v", r.Err())
		}
	}
	if n := strings.Count(logs.String(), "keeping the last good registry (1 platforms)"); n != 4 {
		t.Fatalf("want 4 reports of a broken registry, got %d:\n%s", n, logs.String())
	}
	// A fixed file is applied, changes included.
	if _, err := Revoke(dir, "acme", time.Now()); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { return !accepted(r, acme) }) {
		t.Fatal("a revocation after a repair not applied")
	}
}

// platformJSON returns the first platform of a registry file as JSON.
func platformJSON(t *testing.T, reg []byte) string {
	t.Helper()
	var f file
	if err := json.Unmarshal(reg, &f); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.Platforms[0])
	return string(b)
}

// TestAddedWorksAtOnce: a key added while the registry runs is accepted on
// its first use, without waiting for the watcher: an unknown key makes the
// registry look at its file.
func TestAddedWorksAtOnce(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	key := mustAdd(t, dir, "acme")
	if p, err := r.Authenticate(key); err != nil || p.Name != "acme" {
		t.Fatalf("a key just added: %+v %v", p, err)
	}
}
