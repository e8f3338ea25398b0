// Package pdf makes and reads PDFs for the node: the evidence certificate
// (存证证书, Chinese and English, with a QR code to the verification page),
// the attachments that turn it into an evidence package, and the
// inspection of submitted PDFs (parses, pages, digital signatures intact).
// It is the only package that imports pdfcpu.
//
// pdfcpu keeps its configuration and installed fonts in process-wide
// state; this package owns that state. It never lets pdfcpu write under
// the user's home directory: rendering uses a configuration directory
// given to New (a temporary or data directory), and reading uses none.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// DefaultFontPaths returns where New looks for a CJK TrueType font when
// Config.FontPath and Config.FontPaths are empty, in order: Debian's
// fonts-wqy-zenhei, the same font on Fedora and Arch, and Debian's
// fonts-droid-fallback. pdfcpu embeds TrueType outlines only;
// OpenType/CFF fonts such as Noto CJK do not work.
func DefaultFontPaths() []string {
	return []string{
		"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
		"/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
		"/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
		"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	}
}

// ErrNoFont means no usable CJK TrueType font was found.
var ErrNoFont = errors.New("pdf: no CJK TrueType font found: install the Debian package fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei)")

// DefaultConcurrency bounds how many certificates render at once: pdfcpu
// loads the whole CJK font (about 12 MB) for each and subsets it.
const DefaultConcurrency = 2

// Config configures a Renderer.
type Config struct {
	// Dir holds pdfcpu's configuration and installed fonts (under
	// Dir/pdfcpu-<version>/); it is created if missing and may be shared
	// by processes. Required.
	Dir string
	// FontPath is a CJK TrueType font (.ttf or .ttc); empty searches
	// FontPaths.
	FontPath string
	// FontPaths are searched in order when FontPath is empty; empty means
	// DefaultFontPaths().
	FontPaths []string
	// Concurrency bounds concurrent renderings; 0 means
	// DefaultConcurrency.
	Concurrency int
}

// Renderer makes certificates and packages.
type Renderer struct {
	font string // pdfcpu user font name
	sem  chan struct{}
}

// state is pdfcpu's process-wide configuration, which this package owns.
var state struct {
	sync.RWMutex        // written by New; read-held while pdfcpu works
	dir          string // the configured pdfcpu directory, "" before New
	font         string // installed font name
	path         string // the font file it came from
}

// New returns a Renderer, installing the font into cfg.Dir the first time
// (about half a second; later processes reuse the installed font). pdfcpu
// can hold one configuration per process: a second New with another Dir
// or font switches every Renderer to it.
func New(cfg Config) (*Renderer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pdf: Config.Dir is required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if len(cfg.FontPaths) == 0 {
		cfg.FontPaths = DefaultFontPaths()
	}
	fontPath := cfg.FontPath
	if fontPath == "" {
		fontPath = findFont(cfg.FontPaths)
		if fontPath == "" {
			return nil, fmt.Errorf("%w (looked for %s)", ErrNoFont, strings.Join(cfg.FontPaths, ", "))
		}
	} else if _, err := os.Stat(fontPath); err != nil {
		return nil, fmt.Errorf("pdf: font: %w", err)
	}
	name, err := setup(cfg.Dir, fontPath)
	if err != nil {
		return nil, err
	}
	return &Renderer{font: name, sem: make(chan struct{}, cfg.Concurrency)}, nil
}

func findFont(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// acquire takes a rendering slot or gives up when ctx is done.
func (r *Renderer) acquire(ctx context.Context) (func(), error) {
	select {
	case r.sem <- struct{}{}:
		return func() { <-r.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// versionDir names the configuration directory after the pdfcpu version,
// since installed fonts are pdfcpu-specific encodings.
var versionDir = "pdfcpu-" + strings.Map(func(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' {
		return r
	}
	return '-'
}, model.VersionStr)

// setup points pdfcpu at dir with the font installed and returns the
// font's pdfcpu name. The font is installed into a private directory that
// is then renamed into place, so processes sharing dir never see a
// half-installed font.
func setup(dir, fontPath string) (string, error) {
	disableHome.Do(api.DisableConfigDir)
	state.Lock()
	defer state.Unlock()
	final := filepath.Join(dir, versionDir)
	if state.dir == final && state.path == fontPath && installed(final, state.font) {
		return state.font, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("pdf: config dir: %w", err)
	}
	fontKey := fontKey(fontPath)
	marker := filepath.Join(final, "font-"+fontKey)
	name, err := os.ReadFile(marker)
	if err != nil || !installed(final, string(name)) {
		// Not installed, or partly removed (temporary directories get
		// cleaned): install afresh.
		if err == nil {
			os.RemoveAll(final)
		}
		if err := install(dir, final, fontPath, fontKey); err != nil {
			return "", err
		}
		if name, err = os.ReadFile(marker); err != nil {
			return "", fmt.Errorf("pdf: installed font: %w", err)
		}
	}
	if err := api.EnsureDefaultConfigAt(final); err != nil {
		return "", fmt.Errorf("pdf: pdfcpu config at %s: %w", final, err)
	}
	if err := api.InstallFonts(nil); err != nil { // reload the installed fonts
		return "", fmt.Errorf("pdf: load fonts from %s: %w", final, err)
	}
	state.dir, state.font, state.path = final, string(name), fontPath
	return state.font, nil
}

// installed reports whether the pdfcpu directory final holds font name.
func installed(final, name string) bool {
	if name == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(final, "pdfcpu", "fonts", name+".gob"))
	return err == nil && fi.Size() > 0
}

// fontKey names a font file for the marker that records its installation.
func fontKey(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, base)
}

// install builds a pdfcpu directory with the font in a temporary
// directory next to final and renames it into place. Of a collection
// (.ttc) only the first face by name is kept: the others would cost memory
// at every start for nothing.
func install(dir, final, fontPath, key string) error {
	tmp, err := os.MkdirTemp(dir, ".install-*")
	if err != nil {
		return fmt.Errorf("pdf: font install: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := api.EnsureDefaultConfigAt(tmp); err != nil {
		return fmt.Errorf("pdf: pdfcpu config: %w", err)
	}
	fontDir := filepath.Join(tmp, "pdfcpu", "fonts")
	before, err := gobs(fontDir)
	if err != nil {
		return err
	}
	if err := api.InstallFonts([]string{fontPath}); err != nil {
		return fmt.Errorf("pdf: install font %s: %w", fontPath, err)
	}
	after, err := gobs(fontDir)
	if err != nil {
		return err
	}
	var added []string
	for _, n := range after {
		if !contains(before, n) {
			added = append(added, n)
		}
	}
	if len(added) == 0 {
		return fmt.Errorf("pdf: font %s: pdfcpu installed no face from it", fontPath)
	}
	// The regular face has the shortest name (WenQuanYiZenHei, not
	// …Mono or …Sharp).
	sort.Slice(added, func(i, j int) bool {
		if len(added[i]) != len(added[j]) {
			return len(added[i]) < len(added[j])
		}
		return added[i] < added[j]
	})
	for _, n := range added[1:] {
		os.Remove(filepath.Join(fontDir, n+".gob"))
	}
	if err := os.WriteFile(filepath.Join(tmp, "font-"+key), []byte(added[0]), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process got there first (the directory exists): use
		// its installation if it has this font, else replace it.
		if _, serr := os.Stat(filepath.Join(final, "font-"+key)); serr == nil {
			return nil
		}
		old := final + fmt.Sprintf(".old-%d", os.Getpid())
		if rerr := os.Rename(final, old); rerr != nil {
			return fmt.Errorf("pdf: font install: %w", err)
		}
		os.RemoveAll(old)
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("pdf: font install: %w", err)
		}
	}
	return nil
}

// gobs lists the fonts pdfcpu installed in dir, by name.
func gobs(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pdf: font dir: %w", err)
	}
	var out []string
	for _, e := range es {
		if n, ok := strings.CutSuffix(e.Name(), ".gob"); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// disableHome stops pdfcpu from creating a configuration directory under
// the user's home when asked for a configuration before New configured
// one; once New has, pdfcpu uses that one whatever this says.
var disableHome sync.Once

// config returns a pdfcpu configuration: relaxed validation, no network
// (no CRL or OCSP look-ups).
func config() *model.Configuration {
	disableHome.Do(api.DisableConfigDir)
	c := model.NewDefaultConfiguration()
	c.ValidationMode = model.ValidationRelaxed
	c.Offline = true
	return c
}
