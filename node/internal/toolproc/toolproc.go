// Package toolproc finds the third-party servers that network/build-tools
// builds (the TSA, the witness) and runs them as real processes on
// 127.0.0.1 for tests: start, wait until ready, stop, start again.
//
// Tests never build the servers: when a binary is missing, Binary fails with
// the command to run (network/build-tools, or make tools).
package toolproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary returns the path of the binary bin of tool, a network/build-tools
// name ("timestamp-authority", "witness", "tessera"). It asks the script, so
// the pins and the cache folder ($FABRIC_CACHE_DIR) are read in one place.
func Binary(tool, bin string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	// Read here too so that go test's result cache knows the answer
	// depends on it.
	os.Getenv("FABRIC_CACHE_DIR")
	cmd := exec.Command(filepath.Join(root, "network", "build-tools"), "--path", tool)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(strings.TrimPrefix(stderr.String(), "error: ")); msg != "" {
			return "", errors.New(msg)
		}
		return "", fmt.Errorf("network/build-tools --path %s: %w", tool, err)
	}
	path := filepath.Join(strings.TrimSpace(stdout.String()), bin)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s: %w (run network/build-tools, or make tools)", tool, err)
	}
	return path, nil
}

// repoRoot is the module root above the working directory (go test runs in
// the package's folder).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "network", "build-tools")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("toolproc: no module root with network/build-tools above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the server binds it: Start reports
// that as an early exit, and callers pick another port and try again.
//
// The port is drawn at random from minPort to maxPort: below the
// kernel's ephemeral range (32768–60999 by default), which the source
// ports of outgoing connections come from, so a server stopped and
// started again on its port (a TSA or witness that comes back) does not
// find it taken by some test's connection in between; and below the
// fixed ports of the Fabric networks (network/up's default base 27000,
// the tests' 29000–29379).
func FreePort() (int, error) {
	for range 64 {
		port := minPort + rand.IntN(maxPort-minPort+1)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use: draw again
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("toolproc: no free port found in %d to %d", minPort, maxPort)
}

// The ports FreePort draws from: above the registered ports that
// services on a developer's machine commonly hold, below the Fabric
// networks' (network/lib.sh's BASE_PORT, 27000).
const (
	minPort = 20000
	maxPort = 26999
)

// Config describes a server process.
type Config struct {
	// Path is the binary; Args its arguments.
	Path string
	Args []string
	// Env is the whole environment (nothing is inherited), so that stray
	// variables (HOST, PORT, ...) cannot change the server's settings.
	Env []string
	// Dir is the working directory.
	Dir string
	// Log is the file that collects the server's stdout and stderr,
	// appended to across restarts.
	Log string
	// Ready reports nil once the server answers (required). It is polled
	// every 50 ms.
	Ready func(ctx context.Context) error
	// Timeout bounds the wait for Ready (default 30 s).
	Timeout time.Duration
}

// Process is a running (or stopped) server.
type Process struct {
	cfg Config

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// ErrExited means the server exited while starting; the error's text
// carries the end of its log.
var ErrExited = errors.New("server exited during start-up")

// Start starts the server and waits until it is ready. On failure the
// process is stopped and the error carries the end of its log.
func Start(cfg Config) (*Process, error) {
	p := &Process{cfg: cfg}
	return p, p.Start()
}

// Start starts a stopped server again with the same configuration (same
// arguments, hence the same port and files) and waits until it is ready.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("toolproc: " + filepath.Base(p.cfg.Path) + " is already running")
	}
	if p.cfg.Ready == nil {
		return errors.New("toolproc: Config.Ready is nil")
	}
	logf, err := os.OpenFile(p.cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n===== %s starting %s %s\n", time.Now().Format(time.RFC3339), p.cfg.Path, strings.Join(p.cfg.Args, " "))
	cmd := exec.Command(p.cfg.Path, p.cfg.Args...)
	cmd.Env, cmd.Dir = p.cfg.Env, p.cfg.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (a ^C to go test is not delivered twice), and
	// killed if the test process dies (a test timeout must not leave
	// servers behind on a shared machine).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cfg.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done

	timeout := p.cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-done:
			p.cmd, p.done = nil, nil
			return fmt.Errorf("%s: %w (%s):\n%s", filepath.Base(p.cfg.Path), ErrExited, cmd.ProcessState, p.tail())
		case <-ctx.Done():
			p.stopLocked()
			return fmt.Errorf("%s not ready after %v (last: %v):\n%s", filepath.Base(p.cfg.Path), timeout, last, p.tail())
		case <-time.After(50 * time.Millisecond):
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		last = p.cfg.Ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
	}
}

// Stop stops the server: SIGTERM, then SIGKILL after 10 s. Stopping a
// stopped server does nothing.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *Process) stopLocked() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// Running reports whether the server process is running.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Tail returns the last lines of the server's log, for failure messages.
func (p *Process) Tail() string { return p.tail() }

func (p *Process) tail() string {
	b, err := os.ReadFile(p.cfg.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// BaseEnv is a minimal environment for a server whose home and temp folder
// are dir.
func BaseEnv(dir string) []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir}
}

// HTTPReady is a Config.Ready check: the server answers method url with
// status want.
func HTTPReady(method, url string, want int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %s, want %d", method, url, resp.Status, want)
		}
		return nil
	}
}
