package pdf

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// fixToUnicode rewrites the ToUnicode CMap of the subset of fontName in
// doc so that it maps every glyph drawn for the runes used.
//
// pdfcpu v0.15.0 writes at most the first 100 glyphs of a subset into the
// CMap (font.bf stops after the first "100 beginbfchar" block), so text
// drawn with more distinct glyphs renders but cannot be searched, copied
// or read by screen readers and pdftotext. A certificate uses a few
// hundred distinct CJK characters.
//
// The caller holds state for reading.
func fixToUnicode(doc []byte, fontName string, used map[rune]bool) ([]byte, error) {
	ttf, ok, err := font.UserFont(fontName)
	if err != nil || !ok {
		return nil, fmt.Errorf("pdf: font %s metrics: %v", fontName, err)
	}
	type pair struct {
		gid uint16
		r   rune
	}
	var pairs []pair
	seen := map[uint16]bool{}
	for r := range used {
		gid, ok := ttf.Chars[uint32(r)]
		if !ok || seen[gid] {
			continue
		}
		seen[gid] = true
		pairs = append(pairs, pair{gid, r})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].gid < pairs[j].gid })

	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for len(pairs) > 0 {
		n := min(len(pairs), 100) // a bfchar block holds at most 100 entries
		fmt.Fprintf(&b, "%d beginbfchar\n", n)
		for _, p := range pairs[:n] {
			fmt.Fprintf(&b, "<%04X> <", p.gid)
			for _, u := range utf16.Encode([]rune{p.r}) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
		pairs = pairs[n:]
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")

	conf := config()
	ctx, err := api.ReadContext(bytes.NewReader(doc), conf)
	if err != nil {
		return nil, fmt.Errorf("pdf: re-read certificate: %w", err)
	}
	fixed := 0
	for nr, e := range ctx.XRefTable.Table {
		if e == nil || e.Free || nr == 0 {
			continue
		}
		if _, isStream := e.Object.(types.StreamDict); isStream {
			continue
		}
		d, err := ctx.DereferenceDict(*types.NewIndirectRef(nr, 0))
		if err != nil || d == nil {
			continue
		}
		if t, st, base := d.Type(), d.Subtype(), d.NameEntry("BaseFont"); t == nil || *t != "Font" || st == nil || *st != "Type0" ||
			base == nil || (*base != fontName && !strings.HasSuffix(*base, "+"+fontName)) {
			continue
		}
		ir := d.IndirectRefEntry("ToUnicode")
		if ir == nil {
			continue
		}
		te, ok := ctx.XRefTable.FindTableEntryForIndRef(ir)
		if !ok || te == nil {
			return nil, fmt.Errorf("pdf: ToUnicode object %s missing", ir)
		}
		sd, err := ctx.XRefTable.NewStreamDictForBuf(b.Bytes())
		if err != nil {
			return nil, err
		}
		if err := sd.Encode(); err != nil {
			return nil, err
		}
		te.Object = *sd
		fixed++
	}
	if fixed == 0 {
		return nil, fmt.Errorf("pdf: no %s font with a ToUnicode map in the certificate", fontName)
	}
	var out bytes.Buffer
	if err := api.WriteContext(ctx, &out); err != nil {
		return nil, fmt.Errorf("pdf: rewrite certificate: %w", err)
	}
	return out.Bytes(), nil
}

// runesOf returns the runes drawn in font name.
func runesOf(c pdfContent, name string) map[rune]bool {
	m := map[rune]bool{}
	for _, t := range c.Text {
		if t.Font.Name != name {
			continue
		}
		for _, r := range t.Value {
			m[r] = true
		}
	}
	return m
}
