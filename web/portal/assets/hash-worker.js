// SHA-256 (FIPS 180-4) and SM3 (GB/T 32905-2016) for the verification
// portal, run in a Web Worker: a file is read in slices and hashed in this
// browser; only its digest ever leaves it.
//
// Messages in:  {alg: "sha256"|"sm3", file: Blob | bytes: ArrayBuffer |
//                texts: [ArrayBuffer], libs: {wasm: URL of hash.wasm},
//                engine?: "webcrypto"|"wasm"|"js", budget?: bytes}
// Messages out: {type: "progress", done, total}, then
//               {type: "done", hex, bytes, ms, engine} ({hexes: [...]} for
//               texts)  or  {type: "error", message}
//
// Engines, fastest first:
//   - SHA-256 of a file up to the memory budget (memoryBudget): WebCrypto,
//     in one call over the whole file read into memory (native, not
//     incremental; only in a secure context: HTTPS or localhost);
//   - otherwise assets/hash.wasm, both compression functions unrolled in
//     WebAssembly (written by web/internal/wasmhash), incremental; it needs
//     the worker's CSP to allow 'wasm-unsafe-eval', which only the worker's
//     response does;
//   - otherwise the incremental JavaScript below.
//
// The same file loads outside a worker (EvidenceHash is then a global), so
// the JavaScript hashes can be tested against known vectors.
"use strict";

var EvidenceHash = (function () {
  // ---- SHA-256 ----------------------------------------------------------
  var K256 = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV256 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

  // sha256Blocks hashes the 64-byte blocks of p[off, off+len) into h.
  function sha256Blocks(h, w, p, off, len) {
    var h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
    var end = off + len;
    while (off < end) {
      var i, t1, t2, x, y;
      for (i = 0; i < 16; i++) {
        var j = off + (i << 2);
        w[i] = (p[j] << 24) | (p[j + 1] << 16) | (p[j + 2] << 8) | p[j + 3];
      }
      for (i = 16; i < 64; i++) {
        x = w[i - 2];
        y = w[i - 15];
        w[i] = ((((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10)) +
          w[i - 7] + (((y >>> 7) | (y << 25)) ^ ((y >>> 18) | (y << 14)) ^ (y >>> 3)) + w[i - 16]) | 0;
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7;
      for (i = 0; i < 64; i++) {
        t1 = (hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0;
        t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0;
        d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + hh) | 0;
      off += 64;
    }
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
  }

  // ---- SM3 --------------------------------------------------------------
  var IVSM3 = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
  // TJ[j] = T_j <<< (j mod 32).
  var TJ = new Int32Array(64);
  (function () {
    for (var j = 0; j < 64; j++) {
      var t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
      var r = j % 32;
      TJ[j] = r === 0 ? t : (t << r) | (t >>> (32 - r));
    }
  })();

  // sm3Blocks hashes the 64-byte blocks of p[off, off+len) into h; w holds
  // the 68 expanded words.
  function sm3Blocks(h, w, p, off, len) {
    var v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    var end = off + len;
    while (off < end) {
      var i, x, y;
      for (i = 0; i < 16; i++) {
        var k = off + (i << 2);
        w[i] = (p[k] << 24) | (p[k + 1] << 16) | (p[k + 2] << 8) | p[k + 3];
      }
      for (i = 16; i < 68; i++) {
        x = w[i - 16] ^ w[i - 9];
        y = w[i - 3];
        x ^= (y << 15) | (y >>> 17);
        y = w[i - 13];
        w[i] = x ^ ((x << 15) | (x >>> 17)) ^ ((x << 23) | (x >>> 9)) ^ ((y << 7) | (y >>> 25)) ^ w[i - 6];
      }
      var a = v0, b = v1, c = v2, d = v3, e = v4, f = v5, g = v6, hh = v7;
      var ss1, ss2, tt1, tt2, a12;
      for (i = 0; i < 16; i++) {
        a12 = (a << 12) | (a >>> 20);
        ss1 = (a12 + e + TJ[i]) | 0;
        ss1 = (ss1 << 7) | (ss1 >>> 25);
        ss2 = ss1 ^ a12;
        tt1 = ((a ^ b ^ c) + d + ss2 + (w[i] ^ w[i + 4])) | 0;
        tt2 = ((e ^ f ^ g) + hh + ss1 + w[i]) | 0;
        d = c; c = (b << 9) | (b >>> 23); b = a; a = tt1;
        hh = g; g = (f << 19) | (f >>> 13); f = e;
        e = tt2 ^ ((tt2 << 9) | (tt2 >>> 23)) ^ ((tt2 << 17) | (tt2 >>> 15));
      }
      for (i = 16; i < 64; i++) {
        a12 = (a << 12) | (a >>> 20);
        ss1 = (a12 + e + TJ[i]) | 0;
        ss1 = (ss1 << 7) | (ss1 >>> 25);
        ss2 = ss1 ^ a12;
        tt1 = (((a & b) | (a & c) | (b & c)) + d + ss2 + (w[i] ^ w[i + 4])) | 0;
        tt2 = (((e & f) | (~e & g)) + hh + ss1 + w[i]) | 0;
        d = c; c = (b << 9) | (b >>> 23); b = a; a = tt1;
        hh = g; g = (f << 19) | (f >>> 13); f = e;
        e = tt2 ^ ((tt2 << 9) | (tt2 >>> 23)) ^ ((tt2 << 17) | (tt2 >>> 15));
      }
      v0 ^= a; v1 ^= b; v2 ^= c; v3 ^= d; v4 ^= e; v5 ^= f; v6 ^= g; v7 ^= hh;
      off += 64;
    }
    h[0] = v0; h[1] = v1; h[2] = v2; h[3] = v3; h[4] = v4; h[5] = v5; h[6] = v6; h[7] = v7;
  }

  // ---- the incremental interface shared by both ---------------------------
  var STRIDE = 16 << 10; // bytes hashed per call of a block function

  // Both use 64-byte blocks and the same padding (0x80, zeros, the bit
  // length as a 64-bit big-endian number).
  function Hasher(iv, blocks, words) {
    this.h = new Int32Array(iv);
    this.w = new Int32Array(words);
    this.blocks = blocks;
    this.buf = new Uint8Array(64);
    this.n = 0; // bytes in buf
    this.len = 0; // bytes hashed so far (exact up to 2^53)
  }

  // update hashes the bytes of p (a Uint8Array).
  Hasher.prototype.update = function (p) {
    var off = 0, len = p.length;
    this.len += len;
    if (this.n > 0) {
      var take = Math.min(64 - this.n, len);
      this.buf.set(p.subarray(0, take), this.n);
      this.n += take;
      off = take;
      if (this.n < 64) {
        return this;
      }
      this.blocks(this.h, this.w, this.buf, 0, 64);
      this.n = 0;
    }
    // Many short calls rather than one long one: V8 optimizes a function
    // after enough calls, so a 4 MiB slice as one call would run the first
    // tens of megabytes unoptimized.
    var end = off + ((len - off) & ~63);
    while (off < end) {
      var n = Math.min(end - off, STRIDE);
      this.blocks(this.h, this.w, p, off, n);
      off += n;
    }
    if (off < len) {
      this.buf.set(p.subarray(off), 0);
      this.n = len - off;
    }
    return this;
  };

  // digest pads, finishes and returns the 32 digest bytes.
  Hasher.prototype.digest = function () {
    var hi = Math.floor(this.len / 0x20000000) >>> 0; // len*8 >> 32
    var lo = (this.len * 8) >>> 0;
    var padLen = this.n < 56 ? 64 : 128;
    var pad = new Uint8Array(padLen);
    pad.set(this.buf.subarray(0, this.n), 0);
    pad[this.n] = 0x80;
    pad[padLen - 8] = hi >>> 24; pad[padLen - 7] = hi >>> 16; pad[padLen - 6] = hi >>> 8; pad[padLen - 5] = hi;
    pad[padLen - 4] = lo >>> 24; pad[padLen - 3] = lo >>> 16; pad[padLen - 2] = lo >>> 8; pad[padLen - 1] = lo;
    this.blocks(this.h, this.w, pad, 0, padLen);
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      var v = this.h[i];
      out[4 * i] = v >>> 24; out[4 * i + 1] = v >>> 16; out[4 * i + 2] = v >>> 8; out[4 * i + 3] = v;
    }
    return out;
  };

  function create(alg) {
    switch (alg) {
      case "sha256":
        return new Hasher(IV256, sha256Blocks, 64);
      case "sm3":
        return new Hasher(IVSM3, sm3Blocks, 68);
    }
    throw new Error("unknown algorithm " + alg);
  }

  function hex(b) {
    var s = "";
    for (var i = 0; i < b.length; i++) {
      s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    }
    return s;
  }

  return { create: create, hex: hex, iv: { sha256: IV256, sm3: IVSM3 } };
})();

// CHUNK is what is read at a time when hashing incrementally: large enough
// to hash at full speed, small enough for frequent progress and little
// memory. The memory budget is the largest file read whole for WebCrypto:
// 256 MiB (128 MiB where the browser says the device has under 2 GB,
// navigator.deviceMemory). WebCrypto copies its input, so a file at the
// budget costs twice its size for a moment; above 256 MiB the allocation
// slows the whole page (1 GiB: 168 MB/s and a 0.7 s stall of the page,
// against 344 MB/s and no stall incrementally, docs/portal.md).
var CHUNK = 8 << 20;

function memoryBudget() {
  var gb = typeof navigator !== "undefined" && navigator.deviceMemory;
  return gb && gb < 2 ? 128 << 20 : 256 << 20;
}

// byteReader reads a Blob front to back: next(view) resolves to a view of
// the bytes read into view's memory (at most its length; the memory of
// view is handed over, as a BYOB reader does) or null at the end. It uses
// the Blob's byte stream where the browser has one, else slices.
function byteReader(file) {
  var r = null;
  try {
    r = file.stream().getReader({ mode: "byob" });
  } catch (e) {
    r = null;
  }
  if (r) {
    return {
      next: function (view) {
        return r.read(view).then(function (x) { return x.done ? null : x.value; });
      },
      cancel: function () { r.cancel(); }
    };
  }
  var pos = 0;
  return {
    next: function (view) {
      if (pos >= file.size) {
        return Promise.resolve(null);
      }
      var end = Math.min(pos + view.byteLength, file.size);
      var at = pos;
      pos = end;
      return file.slice(at, end).arrayBuffer().then(function (b) {
        var v = new Uint8Array(view.buffer, view.byteOffset, b.byteLength);
        v.set(new Uint8Array(b));
        return v;
      });
    },
    cancel: function () {}
  };
}

// The memory layout of hash.wasm (web/internal/wasmhash): input at 0, up
// to WASM_DATA bytes; the eight state words at WASM_STATE.
var WASM_DATA = 1 << 20;
var WASM_STATE = 1 << 20;

// WasmHasher is the incremental interface over hash.wasm's compression
// functions; one at a time per module instance (they share its state).
function WasmHasher(x, alg) {
  this.fn = x[alg + "_blocks"];
  this.mem = new Uint8Array(x.memory.buffer);
  this.st = new Uint32Array(x.memory.buffer, WASM_STATE, 8);
  this.st.set(EvidenceHash.iv[alg]);
  this.buf = new Uint8Array(64);
  this.n = 0;
  this.len = 0;
}

WasmHasher.prototype.update = function (p) {
  var off = 0, len = p.length;
  this.len += len;
  if (this.n > 0) {
    var take = Math.min(64 - this.n, len);
    this.buf.set(p.subarray(0, take), this.n);
    this.n += take;
    off = take;
    if (this.n < 64) {
      return;
    }
    this.mem.set(this.buf, 0);
    this.fn(0, 1, WASM_STATE);
    this.n = 0;
  }
  var end = off + ((len - off) & ~63);
  while (off < end) {
    var k = Math.min(end - off, WASM_DATA);
    this.mem.set(p.subarray(off, off + k), 0);
    this.fn(0, k >> 6, WASM_STATE);
    off += k;
  }
  if (off < len) {
    this.buf.set(p.subarray(off), 0);
    this.n = len - off;
  }
};

WasmHasher.prototype.hex = function () {
  var hi = Math.floor(this.len / 0x20000000) >>> 0; // len*8 >> 32
  var lo = (this.len * 8) >>> 0;
  var padLen = this.n < 56 ? 64 : 128;
  var pad = new Uint8Array(padLen);
  pad.set(this.buf.subarray(0, this.n), 0);
  pad[this.n] = 0x80;
  var dv = new DataView(pad.buffer);
  dv.setUint32(padLen - 8, hi);
  dv.setUint32(padLen - 4, lo);
  this.mem.set(pad, 0);
  this.fn(0, padLen >> 6, WASM_STATE);
  var s = "";
  for (var i = 0; i < 8; i++) {
    s += ("0000000" + this.st[i].toString(16)).slice(-8);
  }
  return s;
};

if (typeof self !== "undefined" && typeof importScripts === "function") {
  var wasmReady = null; // Promise of hash.wasm's exports, or of null

  // wasmExports instantiates hash.wasm once; null when WebAssembly is not
  // available (or not allowed) here. Both functions then hash a few
  // megabytes of zeros, so that the engine has optimized them
  // (WebAssembly starts in a baseline tier) before the file arrives.
  var wasmExports = function (libs) {
    if (!wasmReady) {
      wasmReady = new Promise(function (resolve) {
        if (typeof WebAssembly !== "object" || !libs || !libs.wasm) {
          resolve(null);
          return;
        }
        fetch(libs.wasm, { credentials: "omit" }).then(function (r) {
          if (!r.ok) {
            throw new Error("HTTP " + r.status);
          }
          return r.arrayBuffer();
        }).then(function (b) {
          return WebAssembly.instantiate(b);
        }).then(function (m) {
          var x = m.instance.exports;
          var z = new Uint8Array(WASM_DATA);
          ["sm3", "sha256"].forEach(function (alg) {
            var h = new WasmHasher(x, alg);
            for (var i = 0; i < 4; i++) {
              h.update(z);
            }
          });
          resolve(x);
        }).catch(function () { resolve(null); });
      });
    }
    return wasmReady;
  };

  // incremental returns {update(Uint8Array), hex(), engine} for alg.
  var incremental = function (alg, libs, engine) {
    var js = function () {
      var h = EvidenceHash.create(alg);
      return { update: function (p) { h.update(p); }, hex: function () { return EvidenceHash.hex(h.digest()); }, engine: "js" };
    };
    if (engine === "js") {
      return Promise.resolve(js());
    }
    return wasmExports(libs).then(function (x) {
      if (!x) {
        return js();
      }
      var h = new WasmHasher(x, alg);
      return { update: function (p) { h.update(p); }, hex: function () { return h.hex(); }, engine: "wasm" };
    });
  };

  var shorter = function () { return new Error("the file changed while it was read"); };

  // hashStream hashes a file incrementally with the hasher hp resolves
  // to: two buffers, one being read into while the other is hashed (the
  // first read starts while the hasher is made ready).
  var hashStream = function (hp, file) {
    var total = file.size, pos = 0, rd = byteReader(file), h = null;
    var spare = new ArrayBuffer(CHUNK);
    self.postMessage({ type: "progress", done: 0, total: total });
    var pending = total > 0 ? rd.next(new Uint8Array(new ArrayBuffer(CHUNK))) : Promise.resolve(null);
    var step = function () {
      return pending.then(function (v) {
        if (v === null) {
          if (pos !== total) {
            throw shorter();
          }
          return h.hex();
        }
        pos += v.byteLength;
        if (pos > total) {
          throw shorter();
        }
        pending = rd.next(new Uint8Array(spare));
        h.update(v);
        spare = v.buffer;
        self.postMessage({ type: "progress", done: pos, total: total });
        return step();
      });
    };
    return hp.then(function (hasher) {
      h = hasher;
      return step();
    }).then(function (hex) { return { hex: hex, engine: h.engine }; });
  };

  // wholeSHA256 reads the whole file into one buffer (in pieces, for the
  // progress bar) and hashes it with WebCrypto in one call.
  var wholeSHA256 = function (file, subtle) {
    var total = file.size, pos = 0, rd = byteReader(file);
    var buf = new ArrayBuffer(total);
    self.postMessage({ type: "progress", done: 0, total: total });
    var step = function () {
      if (pos >= total) {
        return subtle.digest("SHA-256", buf).then(function (d) { return EvidenceHash.hex(new Uint8Array(d)); });
      }
      return rd.next(new Uint8Array(buf, pos, Math.min(16 << 20, total - pos))).then(function (v) {
        if (v === null || v.byteLength === 0) {
          throw shorter();
        }
        buf = v.buffer;
        pos += v.byteLength;
        self.postMessage({ type: "progress", done: pos, total: total });
        return step();
      });
    };
    return step();
  };

  self.onmessage = function (ev) {
    var msg = ev.data || {};
    var start = performance.now();
    var alg = msg.alg;
    function fail(e) {
      self.postMessage({ type: "error", message: String((e && e.message) || e) });
    }
    if (alg !== "sha256" && alg !== "sm3") {
      fail("unknown algorithm " + alg);
      return;
    }
    if (msg.texts) {
      // Several short inputs (a text's variants), one digest each.
      var hexes = [], engine = "";
      var next = function (i) {
        if (i === msg.texts.length) {
          self.postMessage({ type: "done", hexes: hexes, engine: engine, ms: performance.now() - start });
          return;
        }
        incremental(alg, msg.libs, msg.engine).then(function (h) {
          engine = h.engine;
          h.update(new Uint8Array(msg.texts[i]));
          hexes.push(h.hex());
          next(i + 1);
        }).catch(fail);
      };
      next(0);
      return;
    }
    function done(hex, bytes, engine) {
      self.postMessage({ type: "done", hex: hex, bytes: bytes, ms: performance.now() - start, engine: engine });
    }
    var subtle = self.crypto && self.crypto.subtle;
    var budget = msg.budget >= 0 ? msg.budget : memoryBudget();
    var size = msg.file ? msg.file.size : (msg.bytes ? msg.bytes.byteLength : 0);
    if (alg === "sha256" && subtle && size <= budget && msg.engine !== "js" && msg.engine !== "wasm") {
      var p = msg.bytes ? subtle.digest("SHA-256", msg.bytes).then(function (d) { return EvidenceHash.hex(new Uint8Array(d)); }) :
        wholeSHA256(msg.file, subtle);
      p.then(function (hex) { done(hex, size, "webcrypto"); }, fail);
      return;
    }
    if (msg.bytes) {
      incremental(alg, msg.libs, msg.engine).then(function (h) {
        h.update(new Uint8Array(msg.bytes));
        done(h.hex(), size, h.engine);
      }).catch(fail);
      return;
    }
    hashStream(incremental(alg, msg.libs, msg.engine), msg.file).then(function (r) { done(r.hex, size, r.engine); }, fail);
  };
}
