// Package wasmhash writes the WebAssembly module the portal's hash worker
// uses for SM3 (GB/T 32905-2016) and SHA-256 (FIPS 180-4): both
// compression functions, fully unrolled, with the round constants folded
// in and the working variables renamed rather than moved, so that the
// browser's compiler keeps them in registers. It is a generator, not a
// runtime dependency: web/portal/assets/hash.wasm is its output, checked in
// (TestHashWasmAsset in web compares them; go test ./web -run
// TestHashWasmAsset -update rewrites the asset).
//
// The module exports its memory and two functions,
//
//	sm3_blocks(ptr, n, state i32)
//	sha256_blocks(ptr, n, state i32)
//
// each hashing the n 64-byte blocks at ptr into the eight 32-bit words of
// state (native little-endian words, as a Uint32Array sees them). Memory is
// 17 pages: DataSize bytes of data at 0, then the state at StateOffset.
package wasmhash

import "bytes"

// Memory layout the worker relies on.
const (
	// DataSize is the room for input at offset 0, a whole number of blocks.
	DataSize = 1 << 20
	// StateOffset is where the eight state words are.
	StateOffset = DataSize
	pages       = DataSize/65536 + 1
)

// Module returns the module's binary encoding (deterministic).
func Module() []byte {
	var out bytes.Buffer
	out.Write([]byte{0, 'a', 's', 'm', 1, 0, 0, 0})
	// One type: (i32, i32, i32) -> ().
	section(&out, 1, []byte{1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0})
	// Two functions of that type.
	section(&out, 3, []byte{2, 0, 0})
	// Memory: min pages, no max.
	var mem bytes.Buffer
	mem.WriteByte(1)
	mem.WriteByte(0)
	uleb(&mem, pages)
	section(&out, 5, mem.Bytes())
	var ex bytes.Buffer
	ex.WriteByte(3)
	export(&ex, "memory", 2, 0)
	export(&ex, "sm3_blocks", 0, 0)
	export(&ex, "sha256_blocks", 0, 1)
	section(&out, 7, ex.Bytes())
	var code bytes.Buffer
	code.WriteByte(2)
	for _, f := range []*fn{sm3(), sha256()} {
		var body bytes.Buffer
		body.WriteByte(1) // one group of locals, all i32
		uleb(&body, uint64(f.locals))
		body.WriteByte(0x7f)
		body.Write(f.b.Bytes())
		uleb(&code, uint64(body.Len()))
		code.Write(body.Bytes())
	}
	section(&out, 10, code.Bytes())
	return out.Bytes()
}

func export(b *bytes.Buffer, name string, kind byte, index uint64) {
	uleb(b, uint64(len(name)))
	b.WriteString(name)
	b.WriteByte(kind)
	uleb(b, index)
}

func uleb(b *bytes.Buffer, v uint64) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			b.WriteByte(c)
			return
		}
		b.WriteByte(c | 0x80)
	}
}

func sleb(b *bytes.Buffer, v int64) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			b.WriteByte(c)
			return
		}
		b.WriteByte(c | 0x80)
	}
}

func section(out *bytes.Buffer, id byte, body []byte) {
	out.WriteByte(id)
	uleb(out, uint64(len(body)))
	out.Write(body)
}

// The instructions used.
const (
	opBlock    = 0x02
	opLoop     = 0x03
	opBrIf     = 0x0d
	opEnd      = 0x0b
	opLocalGet = 0x20
	opLocalSet = 0x21
	opLocalTee = 0x22
	opI32Load  = 0x28
	opI32Store = 0x36
	opI32Const = 0x41
	opI32Eqz   = 0x45
	opI32Add   = 0x6a
	opI32Sub   = 0x6b
	opI32And   = 0x71
	opI32Or    = 0x72
	opI32Xor   = 0x73
	opI32ShrU  = 0x76
	opI32Rotl  = 0x77
	opI32Rotr  = 0x78
)

// fn is a function body being written; the parameters are locals 0
// (ptr), 1 (n) and 2 (state).
type fn struct {
	b      bytes.Buffer
	locals int // declared beyond the parameters
}

const (
	pPtr, pN, pState = 0, 1, 2
	firstLocal       = 3
)

func (f *fn) op(ops ...byte) { f.b.Write(ops) }
func (f *fn) get(l int)      { f.op(opLocalGet); uleb(&f.b, uint64(l)) }
func (f *fn) set(l int)      { f.op(opLocalSet); uleb(&f.b, uint64(l)) }
func (f *fn) tee(l int)      { f.op(opLocalTee); uleb(&f.b, uint64(l)) }
func (f *fn) c(v uint32)     { f.op(opI32Const); sleb(&f.b, int64(int32(v))) }

// load and store address 32-bit words (alignment 2^2) at offset off.
func (f *fn) load(off uint32)  { f.op(opI32Load, 2); uleb(&f.b, uint64(off)) }
func (f *fn) store(off uint32) { f.op(opI32Store, 2); uleb(&f.b, uint64(off)) }

// rot pushes local l rotated by n (rotl or rotr).
func (f *fn) rot(op byte, l int, n uint32) { f.get(l); f.c(n); f.op(op) }

// blocksLoop writes the frame both functions share: load the state into
// locals v(0..7), hash block after block with body (which reads the
// block at ptr into locals and leaves the new working variables in v),
// add or xor the state (combine), store it back.
func (f *fn) blocksLoop(v func(int) int, body func(), combine byte) {
	for i := 0; i < 8; i++ {
		f.get(pState)
		f.load(uint32(4 * i))
		f.set(v(i))
	}
	f.op(opBlock, 0x40)
	f.get(pN)
	f.op(opI32Eqz, opBrIf, 0)
	f.op(opLoop, 0x40)
	body()
	for i := 0; i < 8; i++ {
		f.get(pState)
		f.get(pState)
		f.load(uint32(4 * i))
		f.get(v(i))
		f.op(combine)
		f.tee(v(i))
		f.store(uint32(4 * i))
	}
	f.get(pPtr)
	f.c(64)
	f.op(opI32Add)
	f.set(pPtr)
	f.get(pN)
	f.c(1)
	f.op(opI32Sub)
	f.tee(pN)
	f.op(opBrIf, 0)
	f.op(opEnd, opEnd, opEnd) // loop, block, function
}

// loadBE sets local dst to the big-endian word at ptr+off:
// bswap(x) = rotl(x, 8)&0x00ff00ff | rotl(x, 24)&0xff00ff00.
func (f *fn) loadBE(off uint32, tmp, dst int) {
	f.get(pPtr)
	f.load(off)
	f.set(tmp)
	f.rot(opI32Rotl, tmp, 8)
	f.c(0x00ff00ff)
	f.op(opI32And)
	f.rot(opI32Rotl, tmp, 24)
	f.c(0xff00ff00)
	f.op(opI32And, opI32Or)
	f.set(dst)
}

// sm3 is the SM3 compression function over n blocks.
func sm3() *fn {
	f := &fn{}
	v := func(i int) int { return firstLocal + i } // A..H
	w := func(j int) int { return firstLocal + 8 + j }
	tmp, ss1, a12 := firstLocal+8+68, firstLocal+8+69, firstLocal+8+70
	f.locals = 8 + 68 + 3
	expand := func(j int) {
		// x = W[j-16] ^ W[j-9] ^ rotl(W[j-3], 15)
		// W[j] = P1(x) ^ rotl(W[j-13], 7) ^ W[j-6], P1(x) = x ^ rotl(x, 15) ^ rotl(x, 23)
		f.get(w(j - 16))
		f.get(w(j - 9))
		f.op(opI32Xor)
		f.rot(opI32Rotl, w(j-3), 15)
		f.op(opI32Xor)
		f.set(tmp)
		f.get(tmp)
		f.rot(opI32Rotl, tmp, 15)
		f.op(opI32Xor)
		f.rot(opI32Rotl, tmp, 23)
		f.op(opI32Xor)
		f.rot(opI32Rotl, w(j-13), 7)
		f.op(opI32Xor)
		f.get(w(j - 6))
		f.op(opI32Xor)
		f.set(w(j))
	}
	f.blocksLoop(v, func() {
		for j := 0; j < 16; j++ {
			f.loadBE(uint32(4*j), tmp, w(j))
		}
		for j := 16; j < 20; j++ {
			expand(j)
		}
		// The A group (A B C D) and the E group (E F G H) each turn by one
		// slot a round: the new A goes where D was, the new E where H was,
		// B and F are rotated in place to become C and G.
		ag, eg := [4]int{0, 1, 2, 3}, [4]int{4, 5, 6, 7}
		for j := 0; j < 64; j++ {
			if j+4 >= 20 && j+4 < 68 {
				expand(j + 4)
			}
			A, B, C, D := v(ag[0]), v(ag[1]), v(ag[2]), v(ag[3])
			E, F, G, H := v(eg[0]), v(eg[1]), v(eg[2]), v(eg[3])
			t := uint32(0x79cc4519)
			if j >= 16 {
				t = 0x7a879d8a
			}
			r := uint32(j % 32)
			tj := t<<r | t>>((32-r)%32)
			// a12 = A <<< 12; SS1 = (a12 + E + Tj) <<< 7; SS2 = SS1 ^ a12
			f.rot(opI32Rotl, A, 12)
			f.tee(a12)
			f.get(E)
			f.op(opI32Add)
			f.c(tj)
			f.op(opI32Add)
			f.c(7)
			f.op(opI32Rotl)
			f.set(ss1)
			// TT1 = FF(A, B, C) + D + SS2 + (W[j] ^ W[j+4]), into D's slot
			if j < 16 {
				f.get(A)
				f.get(B)
				f.op(opI32Xor)
				f.get(C)
				f.op(opI32Xor)
			} else { // majority: (A & B) | (C & (A | B))
				f.get(A)
				f.get(B)
				f.op(opI32And)
				f.get(C)
				f.get(A)
				f.get(B)
				f.op(opI32Or, opI32And, opI32Or)
			}
			f.get(D)
			f.op(opI32Add)
			f.get(ss1)
			f.get(a12)
			f.op(opI32Xor, opI32Add)
			f.get(w(j))
			f.get(w(j + 4))
			f.op(opI32Xor, opI32Add)
			f.set(D)
			// TT2 = GG(E, F, G) + H + SS1 + W[j]; the new E is P0(TT2), into H's slot
			if j < 16 {
				f.get(E)
				f.get(F)
				f.op(opI32Xor)
				f.get(G)
				f.op(opI32Xor)
			} else { // choice: G ^ (E & (F ^ G))
				f.get(G)
				f.get(E)
				f.get(F)
				f.get(G)
				f.op(opI32Xor, opI32And, opI32Xor)
			}
			f.get(H)
			f.op(opI32Add)
			f.get(ss1)
			f.op(opI32Add)
			f.get(w(j))
			f.op(opI32Add)
			f.set(tmp)
			f.get(tmp)
			f.rot(opI32Rotl, tmp, 9)
			f.op(opI32Xor)
			f.rot(opI32Rotl, tmp, 17)
			f.op(opI32Xor)
			f.set(H)
			f.rot(opI32Rotl, B, 9)
			f.set(B)
			f.rot(opI32Rotl, F, 19)
			f.set(F)
			ag = [4]int{ag[3], ag[0], ag[1], ag[2]}
			eg = [4]int{eg[3], eg[0], eg[1], eg[2]}
		}
		// 64 rounds turn each group a whole number of times: the slots are
		// back in place.
	}, opI32Xor)
	return f
}

var k256 = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// sha256 is the SHA-256 compression function over n blocks.
func sha256() *fn {
	f := &fn{}
	v := func(i int) int { return firstLocal + i } // a..h
	w := func(j int) int { return firstLocal + 8 + j }
	tmp, t1 := firstLocal+8+64, firstLocal+8+65
	f.locals = 8 + 64 + 2
	sigma := func(l int, r1, r2, s uint32) {
		f.rot(opI32Rotr, l, r1)
		f.rot(opI32Rotr, l, r2)
		f.op(opI32Xor)
		f.get(l)
		f.c(s)
		f.op(opI32ShrU, opI32Xor)
	}
	big := func(l int, r1, r2, r3 uint32) {
		f.rot(opI32Rotr, l, r1)
		f.rot(opI32Rotr, l, r2)
		f.op(opI32Xor)
		f.rot(opI32Rotr, l, r3)
		f.op(opI32Xor)
	}
	f.blocksLoop(v, func() {
		for j := 0; j < 16; j++ {
			f.loadBE(uint32(4*j), tmp, w(j))
		}
		// All eight working variables turn by one slot a round: the new a
		// goes where h was, the new e (d + T1) where d was.
		s := [8]int{0, 1, 2, 3, 4, 5, 6, 7}
		for j := 0; j < 64; j++ {
			if j >= 16 {
				// W[j] = σ1(W[j-2]) + W[j-7] + σ0(W[j-15]) + W[j-16]
				sigma(w(j-2), 17, 19, 10)
				f.get(w(j - 7))
				f.op(opI32Add)
				sigma(w(j-15), 7, 18, 3)
				f.op(opI32Add)
				f.get(w(j - 16))
				f.op(opI32Add)
				f.set(w(j))
			}
			a, b, c, d := v(s[0]), v(s[1]), v(s[2]), v(s[3])
			e, ff, g, h := v(s[4]), v(s[5]), v(s[6]), v(s[7])
			// T1 = h + Σ1(e) + Ch(e, f, g) + K[j] + W[j]; Ch = g ^ (e & (f ^ g))
			f.get(h)
			big(e, 6, 11, 25)
			f.op(opI32Add)
			f.get(g)
			f.get(e)
			f.get(ff)
			f.get(g)
			f.op(opI32Xor, opI32And, opI32Xor, opI32Add)
			f.c(k256[j])
			f.op(opI32Add)
			f.get(w(j))
			f.op(opI32Add)
			f.set(t1)
			// d += T1 (the new e)
			f.get(d)
			f.get(t1)
			f.op(opI32Add)
			f.set(d)
			// h = T1 + Σ0(a) + Maj(a, b, c) (the new a); Maj = (a & b) | (c & (a | b))
			f.get(t1)
			big(a, 2, 13, 22)
			f.op(opI32Add)
			f.get(a)
			f.get(b)
			f.op(opI32And)
			f.get(c)
			f.get(a)
			f.get(b)
			f.op(opI32Or, opI32And, opI32Or, opI32Add)
			f.set(h)
			s = [8]int{s[7], s[0], s[1], s[2], s[3], s[4], s[5], s[6]}
		}
	}, opI32Add)
	return f
}
