// Verification portal: language switch, evidence ID check, hashing in a
// worker, calls to the public API, and the result.
//
// Loaded (blocking, small, cached) in <head> so that the chosen language is
// set before the first paint; everything else waits for the DOM.
(function () {
  "use strict";

  // ---- language ---------------------------------------------------------
  var LANG_KEY = "evidence-portal-lang";

  var T = {
    zh: {
      docTitleVerify: "统一证据编号核验 · 存证核验",
      docTitleHow: "核验说明 · 存证核验",
      langSwitch: "English",
      langSwitchLabel: "Switch to English",
      skip: "跳到主要内容",
      brand: "存证核验",
      navLabel: "站点",
      navVerify: "核验",
      navHow: "核验说明",
      title: "统一证据编号核验",
      lead: "输入统一证据编号，选择文件、文本或摘要，点击“查询核验”，即可核对您手中的内容是否与区块链上的存证记录一致。",
      idLabel: "统一证据编号",
      idHint: "27 位字母和数字，例如 01M83X7VS-K89V4F2ZG-F28CEZDZ2；空格、连字符、大小写均可。",
      modeLegend: "核验方式",
      modeFile: "文件",
      modeText: "文本",
      modeDigest: "摘要",
      fileLabel: "选择文件",
      textLabel: "粘贴存证文本",
      textHint: "按 UTF-8 原样计算摘要：每个空格、换行、标点都会影响结果。",
      digestLabel: "文件摘要",
      digestHint: "64 位十六进制或 44 位 Base64。",
      algLabel: "摘要算法",
      algAuto: "按存证记录",
      privacy: "文件不会上传：摘要在您的浏览器中计算，只有摘要（数字指纹）发送给核验服务。",
      submit: "查询核验",
      cancel: "取消",
      hashing: "正在本机计算摘要…",
      foot: "本页面不加载任何外部资源。核验结果由本节点根据账本给出；也可下载电子证据包离线独立核验。",
      footHow: "三项核验分别证明什么？",

      errIDEmpty: "请输入统一证据编号。",
      errIDChecksum: "校验位不符：编号可能输入有误，请逐位核对。",
      errIDLength: "统一证据编号格式有误：应为 27 位字母和数字，您输入了 {n} 位。",
      errIDChar: "统一证据编号格式有误：含有不能出现在编号中的字符“{c}”。",
      errIDFirst: "统一证据编号格式有误：第一位应为 0–7。",
      errIDZero: "统一证据编号格式有误：编号不能全为 0。",
      errFile: "请选择要核验的文件。",
      errText: "请粘贴要核验的文本。",
      errDigest: "请输入摘要：64 位十六进制或 44 位 Base64。",
      errDigestFormat: "摘要格式有误：应为 64 位十六进制或 44 位 Base64，您输入了 {n} 个字符。",

      progress: "{p}% · 已读取 {done} / {total}",
      statusHashing: "正在本机计算 {alg} 摘要。",
      statusLooking: "正在查询存证记录…",
      statusVerifying: "正在核验…",

      outMistypedTitle: "编号可能输入有误",
      outMistyped: "统一证据编号的校验位不符：编号很可能抄写或输入有误，请与证书或原件逐位核对后重试。本次未向服务器查询。",
      outInvalidTitle: "编号格式有误",
      outInvalid: "统一证据编号由 27 位字母和数字组成（可含空格或连字符），请对照证书检查输入。",
      outNotFoundTitle: "未找到存证记录",
      outNotFound: "编号格式正确，但本节点的账本中没有以此编号存证的记录。请确认编号是否完整、是否来自本平台出具的证书。",
      outPendingTitle: "存证尚未上链",
      outPending: "该证据已被节点受理，正在写入区块链，还未打包进区块，暂时无法核验。请稍后再试。",
      outPassTitle: "核验通过",
      outPass: "您提供的内容与区块链上的存证记录一致，三项核验全部通过。",
      outMismatchTitle: "比对结果不一致",
      outMismatch: "您提供的内容与存证时的内容不同：它可能已被修改，或者不是存证的那一份。存证记录本身完整有效。",
      outBrokenTitle: "存证记录校验未通过",
      outBroken: "账本上的存证记录或其证明未能通过校验，结果不可信。请联系节点运营方。",
      outErrorTitle: "核验未完成",
      outNetwork: "无法连接核验服务，请检查网络后重试。",
      outCanceled: "已取消。",

      check_digest_match_pass: "比对结果一致",
      check_digest_match_fail: "比对结果不一致",
      check_on_ledger_pass: "电子证据已在区块链存证",
      check_on_ledger_fail: "未能确认电子证据已在区块链存证",
      check_proof_intact_pass: "电子数据包完整性校验通过",
      check_proof_intact_fail: "电子数据包完整性校验未通过",
      pass: "通过",
      fail: "未通过",
      checksTitle: "核验项目",
      coordsTitle: "存证信息",
      fID: "统一证据编号",
      fType: "存证类型",
      typeFile: "文件",
      typeText: "文本",
      fAlg: "摘要算法",
      fDigest: "存证摘要",
      fYours: "您提供的摘要",
      fBlockHash: "所在区块 hash",
      fHeight: "块高",
      fTime: "存证时间",
      fLedger: "账本名称",
      fTx: "交易 ID",
      timeNote: "时间由节点时钟给出并签名，非可信时间戳",
      fTrusted: "可信时间",
      trustedPending: "可信时间戳尚未取得（已向时间戳服务机构申请）",
      trustedNote: "RFC 3161 可信时间戳，时间戳服务机构：{tsa}",
      hashedLocal: "已在本机计算 {alg} 摘要：{size}，用时 {dur}；文件未上传。",
      seconds: "{s} 秒",
      comma: "，",
      colon: "：",
      hashedText: "已在本机计算文本的 {alg} 摘要，文本未上传。",
      link: "本次核验链接（可复制分享）"
    },
    en: {
      docTitleVerify: "Verify an evidence ID · Evidence verification",
      docTitleHow: "How verification works · Evidence verification",
      langSwitch: "中文",
      langSwitchLabel: "切换到中文",
      skip: "Skip to main content",
      brand: "Evidence verification",
      navLabel: "Site",
      navVerify: "Verify",
      navHow: "How it works",
      title: "Verify an evidence ID",
      lead: "Enter the evidence ID, choose a file, a text or a digest, and press “Verify” to check that what you hold matches the evidence recorded on the blockchain.",
      idLabel: "Evidence ID",
      idHint: "27 letters and digits, e.g. 01M83X7VS-K89V4F2ZG-F28CEZDZ2; spaces, hyphens and lower case are fine.",
      modeLegend: "Verify by",
      modeFile: "File",
      modeText: "Text",
      modeDigest: "Digest",
      fileLabel: "Choose a file",
      textLabel: "Paste the recorded text",
      textHint: "The digest is computed over the exact UTF-8 text: every space, line break and punctuation mark counts.",
      digestLabel: "Digest",
      digestHint: "64 hex digits or 44 base64 characters.",
      algLabel: "Algorithm",
      algAuto: "As recorded",
      privacy: "Your file is not uploaded: its digest is computed in your browser, and only the digest (a digital fingerprint) is sent.",
      submit: "Verify",
      cancel: "Cancel",
      hashing: "Computing the digest on this computer…",
      foot: "This page loads nothing from other sites. Results are given by this node from its ledger; the evidence package can also be checked offline.",
      footHow: "What does each check prove?",

      errIDEmpty: "Enter the evidence ID.",
      errIDChecksum: "The check character does not match: the ID was probably mistyped.",
      errIDLength: "Not a valid evidence ID: it has 27 letters and digits, and you entered {n}.",
      errIDChar: "Not a valid evidence ID: the character “{c}” cannot appear in one.",
      errIDFirst: "Not a valid evidence ID: the first character must be 0–7.",
      errIDZero: "Not a valid evidence ID: it cannot be all zeros.",
      errFile: "Choose the file to verify.",
      errText: "Paste the text to verify.",
      errDigest: "Enter the digest: 64 hex digits or 44 base64 characters.",
      errDigestFormat: "Not a digest: it should be 64 hex digits or 44 base64 characters, and you entered {n} characters.",

      progress: "{p}% · read {done} of {total}",
      statusHashing: "Computing the {alg} digest on this computer.",
      statusLooking: "Looking up the evidence…",
      statusVerifying: "Verifying…",

      outMistypedTitle: "The ID was probably mistyped",
      outMistyped: "The evidence ID's check character does not match: the ID was most likely mistyped or miscopied. Compare it character by character with the certificate and try again. Nothing was sent to the server.",
      outInvalidTitle: "Not a valid evidence ID",
      outInvalid: "An evidence ID has 27 letters and digits (spaces and hyphens are fine). Please check it against the certificate.",
      outNotFoundTitle: "No evidence found",
      outNotFound: "The ID is well formed, but this node's ledger holds no evidence under it. Check that the ID is complete and comes from a certificate issued through this node.",
      outPendingTitle: "Not on the ledger yet",
      outPending: "The node has accepted this evidence and is writing it to the blockchain, but it is not in a block yet, so it cannot be verified. Please try again in a moment.",
      outPassTitle: "Verified",
      outPass: "What you provided matches the evidence recorded on the blockchain: all three checks pass.",
      outMismatchTitle: "Digest does not match",
      outMismatch: "What you provided differs from what was recorded: it may have been changed, or it is not the recorded document. The record itself is intact.",
      outBrokenTitle: "The record failed its checks",
      outBroken: "The record on the ledger or its proof does not verify, so the result cannot be trusted. Please contact the node's operator.",
      outErrorTitle: "Verification not completed",
      outNetwork: "Cannot reach the verification service. Check the network and try again.",
      outCanceled: "Canceled.",

      check_digest_match_pass: "Digest matches",
      check_digest_match_fail: "Digest does not match",
      check_on_ledger_pass: "Recorded on the blockchain",
      check_on_ledger_fail: "Not confirmed on the blockchain",
      check_proof_intact_pass: "Evidence package integrity verified",
      check_proof_intact_fail: "Evidence package integrity check failed",
      pass: "pass",
      fail: "fail",
      checksTitle: "Checks",
      coordsTitle: "Record on the ledger",
      fID: "Evidence ID",
      fType: "Evidence type",
      typeFile: "file",
      typeText: "text",
      fAlg: "Algorithm",
      fDigest: "Recorded digest",
      fYours: "Your digest",
      fBlockHash: "Block hash",
      fHeight: "Block height",
      fTime: "Ledger time",
      fLedger: "Ledger",
      fTx: "Transaction ID",
      timeNote: "given and signed by the node's clock; not a trusted timestamp",
      fTrusted: "Trusted time",
      trustedPending: "pending: RFC 3161 timestamps are requested from the time-stamping authorities",
      trustedNote: "RFC 3161 timestamp by {tsa}",
      hashedLocal: "The {alg} digest was computed on this computer: {size} in {dur}. The file was not uploaded.",
      seconds: "{s} s",
      comma: ", ",
      colon: ": ",
      hashedText: "The {alg} digest of the text was computed on this computer. The text was not uploaded.",
      link: "Link to this verification (copy to share)"
    }
  };

  function initialLang() {
    var q = new URLSearchParams(location.search).get("lang");
    if (q) {
      return /^en/i.test(q) ? "en" : "zh";
    }
    try {
      var s = localStorage.getItem(LANG_KEY);
      if (s === "en" || s === "zh") {
        return s;
      }
    } catch (e) { /* storage disabled */ }
    return "zh";
  }

  var lang = initialLang();
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";

  function t(key, vars) {
    var s = T[lang][key];
    if (s === undefined) {
      s = T.zh[key] !== undefined ? T.zh[key] : key;
    }
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) { return vars[k] !== undefined ? String(vars[k]) : m; });
    }
    return s;
  }

  var rerender = null; // redraws the current result in the new language

  function applyLang() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    var page = document.body.getAttribute("data-page");
    document.title = t(page === "how" ? "docTitleHow" : "docTitleVerify");
    var els = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < els.length; i++) {
      els[i].textContent = t(els[i].getAttribute("data-i18n"));
    }
    els = document.querySelectorAll("[data-i18n-aria-label]");
    for (i = 0; i < els.length; i++) {
      els[i].setAttribute("aria-label", t(els[i].getAttribute("data-i18n-aria-label")));
    }
    var b = document.getElementById("lang");
    if (b) {
      b.textContent = t("langSwitch");
      b.setAttribute("lang", lang === "en" ? "zh-CN" : "en");
      b.setAttribute("aria-label", t("langSwitchLabel"));
    }
    if (rerender) {
      rerender();
    }
  }

  function setLang(l) {
    lang = l;
    try { localStorage.setItem(LANG_KEY, l); } catch (e) { /* storage disabled */ }
    applyLang();
  }

  // ---- evidence ID (docs/evidence-id.md; verifier/evidence/id.go) --------
  var CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  var SEPARATORS = " \t\n\r-_\u3000\u2010\u2011\u2012\u2013\u2014\u2212\uff0d";

  function crockfordValue(c) {
    var u = c.toUpperCase();
    if (u === "I" || u === "L") {
      return 1;
    }
    if (u === "O") {
      return 0;
    }
    return u.length === 1 ? CROCKFORD.indexOf(u) : -1;
  }

  // luhn32 is the Luhn mod 32 check value of the body's digit values.
  function luhn32(vals) {
    var sum = 0, factor = 2;
    for (var i = vals.length - 1; i >= 0; i--) {
      var a = factor * vals[i];
      sum += Math.floor(a / 32) + (a % 32);
      factor = 3 - factor;
    }
    return (32 - (sum % 32)) % 32;
  }

  // parseID mirrors evidence.ParseID: {id} or {error: "empty"|"length"|"char"|"first"|"zero"|"checksum"}.
  function parseID(s) {
    var vals = [];
    var chars = Array.from(s);
    for (var i = 0; i < chars.length; i++) {
      var c = chars[i];
      if (SEPARATORS.indexOf(c) >= 0) {
        continue;
      }
      var v = c.length === 1 && c.charCodeAt(0) < 0x80 ? crockfordValue(c) : -1;
      if (v < 0) {
        return { error: "char", c: c };
      }
      if (vals.length === 27) {
        return { error: "length", n: vals.length + 1 + countRest(chars, i + 1) };
      }
      vals.push(v);
    }
    if (vals.length === 0) {
      return { error: "empty" };
    }
    if (vals.length !== 27) {
      return { error: "length", n: vals.length };
    }
    if (vals[0] > 7) {
      return { error: "first" };
    }
    var body = vals.slice(0, 26);
    if (luhn32(body) !== vals[26]) {
      return { error: "checksum" };
    }
    if (body.every(function (x) { return x === 0; })) {
      return { error: "zero" };
    }
    return { id: vals.map(function (x) { return CROCKFORD[x]; }).join("") };
  }

  function countRest(chars, from) {
    var n = 0;
    for (var i = from; i < chars.length; i++) {
      if (SEPARATORS.indexOf(chars[i]) < 0) {
        n++;
      }
    }
    return n;
  }

  // ---- digests -----------------------------------------------------------
  var B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  function hexToBase64(hex) {
    var bytes = [];
    for (var i = 0; i < hex.length; i += 2) {
      bytes.push(parseInt(hex.substr(i, 2), 16));
    }
    var out = "";
    for (i = 0; i < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
        (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < bytes.length ? B64[n & 63] : "=");
    }
    return out;
  }

  // checkDigest accepts what evidence.ParseDigest accepts for a 32-byte
  // digest: an optional "alg:" prefix, then hex or base64 (standard or URL).
  function checkDigest(s) {
    s = s.trim();
    var alg = "";
    var m = /^(sha-?256|sm3):/i.exec(s);
    if (m) {
      alg = m[1].toLowerCase().replace("-", "");
      s = s.slice(m[0].length);
    }
    if (/^[0-9a-fA-F]{64}$/.test(s) || /^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
      return { digest: s, alg: alg };
    }
    return { error: s.length === 0 ? "empty" : "format", n: s.length };
  }

  function formatBytes(n) {
    if (n < 1024) {
      return n + " B";
    }
    var units = ["KB", "MB", "GB", "TB"], u = -1;
    do {
      n /= 1024;
      u++;
    } while (n >= 1024 && u < units.length - 1);
    return n.toFixed(n < 10 ? 2 : 1) + " " + units[u];
  }

  function algName(a) {
    return a === "sm3" ? "SM3" : a === "sha256" ? "SHA-256" : String(a || "").toUpperCase();
  }

  // formatTime shows an RFC 3339 time in the reader's time zone.
  function formatTime(s) {
    var d = new Date(s);
    if (isNaN(d.getTime())) {
      return s;
    }
    function p(n) { return (n < 10 ? "0" : "") + n; }
    var off = -d.getTimezoneOffset();
    var sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) +
      " (UTC" + sign + p(Math.floor(off / 60)) + ":" + p(off % 60) + ")";
  }

  // ---- DOM helpers ---------------------------------------------------------
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
          if (k === "text") {
            e.textContent = attrs[k];
          } else if (k === "class") {
            e.className = attrs[k];
          } else {
            e.setAttribute(k, attrs[k]);
          }
        }
      }
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) {
        e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
      }
    });
    return e;
  }

  // ---- the verification page -------------------------------------------------
  function initVerify() {
    var form = $("form"), idIn = $("id"), fileIn = $("file"), textIn = $("text"), digestIn = $("digest"), algIn = $("alg");
    var go = $("go"), cancel = $("cancel"), box = $("progress-box"), bar = $("progress"), ptext = $("progress-text");
    var status = $("status"), result = $("result");
    var workerURL = document.body.getAttribute("data-worker");
    var worker = null, run = 0, busy = false;

    function mode() {
      var r = form.querySelector("input[name=mode]:checked");
      return r ? r.value : "file";
    }

    function showPane() {
      var m = mode();
      $("pane-file").hidden = m !== "file";
      $("pane-text").hidden = m !== "text";
      $("pane-digest").hidden = m !== "digest";
    }

    function setMode(m) {
      var r = form.querySelector("input[name=mode][value=" + m + "]");
      if (r) {
        r.checked = true;
      }
      showPane();
    }

    var fieldErrors = {}; // field id → {key, vars}
    function fieldError(input, errEl, key, vars) {
      fieldErrors[input.id] = key ? { key: key, vars: vars } : null;
      if (key) {
        errEl.textContent = t(key, vars);
        errEl.hidden = false;
        input.setAttribute("aria-invalid", "true");
      } else {
        errEl.textContent = "";
        errEl.hidden = true;
        input.removeAttribute("aria-invalid");
      }
    }
    function redrawFieldErrors() {
      [["id", "id-error"], ["file", "file-error"], ["text", "text-error"], ["digest", "digest-error"]].forEach(function (p) {
        var f = fieldErrors[p[0]];
        if (f) {
          $(p[1]).textContent = t(f.key, f.vars);
        }
      });
    }
    function clearErrors() {
      fieldError(idIn, $("id-error"), null);
      fieldError(fileIn, $("file-error"), null);
      fieldError(textIn, $("text-error"), null);
      fieldError(digestIn, $("digest-error"), null);
    }

    var idErrKey = { empty: "errIDEmpty", length: "errIDLength", "char": "errIDChar", first: "errIDFirst", zero: "errIDZero" };

    function setBusy(b) {
      busy = b;
      go.disabled = b;
      go.setAttribute("aria-busy", b ? "true" : "false");
      cancel.hidden = !b;
      if (!b) {
        box.hidden = true;
      }
    }

    function say(key, vars) {
      status.textContent = key ? t(key, vars) : "";
    }

    // ---- result rendering ----
    var current = null; // {outcome, v, ctx}

    function show(outcome, v, ctx) {
      current = { outcome: outcome, v: v, ctx: ctx || {} };
      draw(true);
    }

    function draw(focus) {
      if (!current) {
        result.hidden = true;
        return;
      }
      var o = current.outcome, v = current.v, ctx = current.ctx;
      var kind, titleKey, msg;
      switch (o) {
        case "pass":
          kind = "pass"; titleKey = "outPassTitle"; msg = t("outPass"); break;
        case "mismatch":
          kind = "fail"; titleKey = "outMismatchTitle"; msg = t("outMismatch"); break;
        case "proof_invalid":
          kind = "fail"; titleKey = "outBrokenTitle"; msg = t("outBroken"); break;
        case "not_found":
          kind = "warn"; titleKey = "outNotFoundTitle"; msg = t("outNotFound"); break;
        case "id_checksum":
          kind = "warn"; titleKey = "outMistypedTitle"; msg = t("outMistyped"); break;
        case "pending":
          kind = "warn"; titleKey = "outPendingTitle"; msg = t("outPending"); break;
        case "id_invalid":
          kind = "warn"; titleKey = "outInvalidTitle"; msg = ctx.message ? (lang === "en" ? ctx.message : ctx.messageZH) : t("outInvalid"); break;
        default:
          kind = "fail"; titleKey = "outErrorTitle";
          msg = ctx.msgKey ? t(ctx.msgKey) : (lang === "en" ? ctx.message : (ctx.messageZH || ctx.message));
      }
      var mark = kind === "pass" ? "✓" : kind === "warn" ? "!" : "✗";
      result.textContent = "";
      result.setAttribute("data-outcome", o);
      var title = el("h2", { id: "result-title", tabindex: "-1" }, [el("span", { "class": "badge", "aria-hidden": "true", text: mark }),
        el("span", { "class": "title-text", text: t(titleKey) })]);
      result.appendChild(el("div", { "class": "verdict verdict-" + kind }, [title, el("p", { id: "result-message", text: msg })]));

      if (v && v.checks && v.checks.length && o !== "not_found") {
        result.appendChild(el("h3", { text: t("checksTitle") }));
        var ol = el("ol", { "class": "checks" });
        v.checks.forEach(function (c) {
          var state = c.pass ? "pass" : "fail";
          ol.appendChild(el("li", { "class": "check check-" + state, "data-check": c.name, "data-pass": String(!!c.pass) }, [
            el("span", { "class": "badge", "aria-hidden": "true", text: c.pass ? "✓" : "✗" }),
            el("div", null, [
              el("span", { "class": "check-title", text: t("check_" + c.name + "_" + state) }),
              el("span", { "class": "check-state", text: t(state) }),
              el("p", { "class": "reason", text: lang === "en" ? c.reason : (c.reason_zh || c.reason) })
            ])
          ]));
        });
        result.appendChild(ol);
      }

      var rc = v && v.receipt;
      if (rc) {
        result.appendChild(el("h3", { text: t("coordsTitle") }));
        var dl = el("dl", { "class": "coords" });
        var row = function (key, value, mono, extra, cls) {
          dl.appendChild(el("dt", { text: t(key) }));
          dl.appendChild(el("dd", { "class": (mono ? "mono" : "") + (cls ? " " + cls : ""), "data-field": key }, [value, extra]));
        };
        row("fID", rc.id, true);
        row("fType", rc.type === "text" ? t("typeText") : t("typeFile"));
        row("fBlockHash", rc.block_hash, true);
        row("fHeight", String(rc.block_number));
        row("fTime", el("time", { datetime: rc.ledger_time, text: formatTime(rc.ledger_time) }), false,
          el("span", { "class": "sub", text: rc.ledger_time + " · " + t("timeNote") }));
        if (rc.timestamps && rc.timestamps.length) {
          var times = el("span", null, rc.timestamps.map(function (ts) {
            return el("span", { "class": "stamp" }, [
              el("time", { datetime: ts.gen_time, text: formatTime(ts.gen_time) }),
              el("span", { "class": "sub", text: ts.gen_time + " · " + t("trustedNote", { tsa: ts.tsa }) })
            ]);
          }));
          row("fTrusted", times, false);
        } else if (/pending$/.test(rc.time_source || "")) {
          row("fTrusted", t("trustedPending"), false);
        }
        row("fLedger", rc.ledger);
        row("fAlg", algName(rc.algorithm));
        row("fDigest", rc.digest_hex, true, el("span", { "class": "sub", text: "Base64: " + rc.digest_base64 }));
        var differs = o === "mismatch" ? "differs" : null;
        if (ctx.digestHex) {
          row("fYours", ctx.digestHex, true, el("span", { "class": "sub", text: algName(ctx.alg) + " · Base64: " + hexToBase64(ctx.digestHex) }), differs);
        } else if (ctx.digest) {
          row("fYours", ctx.digest, true, el("span", { "class": "sub", text: algName(ctx.alg) }), differs);
        }
        if (rc.tx_id) {
          row("fTx", rc.tx_id, true);
        }
        result.appendChild(dl);
      }

      if (ctx.hashed) {
        var dur = ctx.ms < 1000 ? Math.max(1, Math.round(ctx.ms)) + " ms" : t("seconds", { s: (ctx.ms / 1000).toFixed(2) });
        if (ctx.bytes >= 1 << 20) {
          dur += t("comma") + Math.round(ctx.bytes / 1e6 / (ctx.ms / 1000)) + " MB/s";
        }
        var note = ctx.hashed === "file" ?
          t("hashedLocal", { alg: algName(ctx.alg), size: formatBytes(ctx.bytes), dur: dur }) :
          t("hashedText", { alg: algName(ctx.alg) });
        result.appendChild(el("p", { "class": "meta", id: "hash-note", text: note }));
        result.setAttribute("data-hash-ms", String(ctx.ms));
        result.setAttribute("data-hash-bytes", String(ctx.bytes));
      }
      if (rc && (ctx.digestHex || ctx.digest)) {
        var q = "/verify?id=" + encodeURIComponent(rc.id) + "&digest=" + encodeURIComponent(ctx.digestHex || ctx.digest) +
          "&alg=" + encodeURIComponent(ctx.alg);
        result.appendChild(el("p", { "class": "meta" }, [el("a", { href: q, text: t("link") })]));
      }
      result.hidden = false;
      status.textContent = t(titleKey) + t("colon") + msg;
      if (focus) {
        title.focus();
      }
    }
    rerender = function () {
      redrawFieldErrors();
      if (current) {
        draw(false);
      }
      if (busy && box.lastProgress) {
        progressText(box.lastProgress);
      }
    };

    function progressText(p) {
      box.lastProgress = p;
      var pct = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
      bar.value = pct;
      ptext.textContent = t("progress", { p: pct, done: formatBytes(p.done), total: formatBytes(p.total) });
    }

    // hash computes the digest of a Blob or bytes in the worker.
    function hash(alg, input) {
      return new Promise(function (resolve, reject) {
        worker = new Worker(workerURL);
        worker.onmessage = function (ev) {
          var m = ev.data;
          if (m.type === "progress") {
            progressText(m);
          } else if (m.type === "done") {
            worker.terminate();
            worker = null;
            resolve(m);
          } else if (m.type === "error") {
            worker.terminate();
            worker = null;
            reject({ message: m.message });
          }
        };
        worker.onerror = function (ev) {
          ev.preventDefault();
          if (worker) {
            worker.terminate();
            worker = null;
          }
          reject({ message: ev.message || "worker error" });
        };
        worker.postMessage(input instanceof Blob ? { alg: alg, file: input } : { alg: alg, bytes: input });
      });
    }

    // api calls the JSON API: resolves {status, body}; rejects on network failure.
    function api(method, path, payload) {
      var init = { method: method, headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" };
      if (payload) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(payload);
      }
      return fetch(path, init).then(function (r) {
        return r.json().then(function (b) { return { status: r.status, body: b }; }, function () { return { status: r.status, body: null }; });
      });
    }

    function apiError(res) {
      var e = res.body && res.body.error;
      if (e && (e.code === "id_checksum" || e.code === "id_invalid")) {
        return { outcome: e.code, ctx: { message: e.message, messageZH: e.message_zh } };
      }
      if (e) {
        return { outcome: "error", ctx: { message: e.message, messageZH: e.message_zh } };
      }
      return { outcome: "error", ctx: { message: "HTTP " + res.status, messageZH: "HTTP " + res.status } };
    }

    function stop() {
      run++;
      if (worker) {
        worker.terminate();
        worker = null;
      }
      setBusy(false);
    }

    cancel.addEventListener("click", function () {
      stop();
      say("outCanceled");
      go.focus();
    });

    form.addEventListener("change", function (ev) {
      if (ev.target.name === "mode") {
        showPane();
      }
    });

    // As the ID is typed: once it is complete, say at once whether it is
    // mistyped (not on blur: a message appearing as the field loses focus
    // would move the button away from a pointer pressing it).
    idIn.addEventListener("input", function () {
      var p = parseID(idIn.value);
      if (p.error === "checksum") {
        fieldError(idIn, $("id-error"), "errIDChecksum");
      } else if (p.error && p.error !== "empty" && !(p.error === "length" && p.n < 27)) {
        fieldError(idIn, $("id-error"), idErrKey[p.error], { n: p.n, c: p.c });
      } else {
        fieldError(idIn, $("id-error"), null);
      }
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!busy) {
        verify();
      }
    });

    function verify() {
      clearErrors();
      current = null;
      result.hidden = true;
      result.removeAttribute("data-outcome");
      var m = mode();

      // 1. The ID, checked here: a mistyped ID never reaches the server.
      var p = parseID(idIn.value);
      if (p.error === "checksum") {
        fieldError(idIn, $("id-error"), "errIDChecksum");
        show("id_checksum", null, {});
        idIn.focus();
        return;
      }
      if (p.error) {
        var key = idErrKey[p.error], vars = { n: p.n, c: p.c };
        fieldError(idIn, $("id-error"), key, vars);
        if (p.error !== "empty") {
          show("id_invalid", null, {});
        }
        idIn.focus();
        return;
      }
      var id = p.id;

      // 2. What to compare, checked before any request.
      var file = null, text = null, dg = null;
      if (m === "file") {
        file = fileIn.files && fileIn.files[0];
        if (!file) {
          fieldError(fileIn, $("file-error"), "errFile");
          fileIn.focus();
          return;
        }
      } else if (m === "text") {
        text = textIn.value;
        if (text.length === 0) {
          fieldError(textIn, $("text-error"), "errText");
          textIn.focus();
          return;
        }
      } else {
        dg = checkDigest(digestIn.value);
        if (dg.error) {
          fieldError(digestIn, $("digest-error"), dg.error === "empty" ? "errDigest" : "errDigestFormat", { n: dg.n });
          digestIn.focus();
          return;
        }
      }

      var me = ++run;
      setBusy(true);
      say("statusLooking");
      var ctx = {};
      api("GET", "/api/v1/evidence/" + encodeURIComponent(id)).then(function (res) {
        if (me !== run) {
          return null;
        }
        if (res.status === 404) {
          return { outcome: "not_found", v: { verdict: "fail", outcome: "not_found", id: id } };
        }
        if (res.status === 202) {
          // Accepted and durably queued, not in a block yet.
          return { outcome: "pending", v: null };
        }
        if (res.status !== 200) {
          return apiError(res);
        }
        var rc = res.body;
        var alg = (dg && (dg.alg || algIn.value)) || rc.algorithm || "sha256";
        ctx.alg = alg;
        var digestP;
        if (dg) {
          ctx.digest = dg.digest;
          digestP = Promise.resolve(dg.digest);
        } else {
          var input = file || new TextEncoder().encode(text);
          box.hidden = false;
          bar.value = 0;
          ptext.textContent = "";
          box.lastProgress = null;
          say("statusHashing", { alg: algName(alg) });
          digestP = hash(alg, input).then(function (h) {
            ctx.digestHex = h.hex;
            ctx.hashed = file ? "file" : "text";
            ctx.ms = h.ms;
            ctx.bytes = h.bytes;
            return h.hex;
          });
        }
        return digestP.then(function (digest) {
          if (me !== run) {
            return null;
          }
          box.hidden = true;
          say("statusVerifying");
          return api("POST", "/api/v1/verify", { id: id, algorithm: alg, digest: digest }).then(function (r) {
            if (r.status !== 200) {
              return apiError(r);
            }
            return { outcome: r.body.outcome, v: r.body };
          });
        });
      }).then(function (out) {
        if (!out || me !== run) {
          return;
        }
        setBusy(false);
        show(out.outcome, out.v || null, Object.assign(ctx, out.ctx || {}));
      }, function (err) {
        if (me !== run) {
          return;
        }
        setBusy(false);
        show("error", null, err && err.message && !(err instanceof TypeError) ?
          { message: err.message, messageZH: err.message } : { msgKey: "outNetwork" });
      });
    }

    // Deep links: /verify?id=…&digest=…[&alg=sm3] pre-fill the form and,
    // with both an ID and a digest, run at once.
    var q = new URLSearchParams(location.search);
    var qid = q.get("id"), qdigest = q.get("digest"), qalg = (q.get("alg") || q.get("algorithm") || "").toLowerCase().replace("-", "");
    if (qid) {
      idIn.value = qid;
    }
    if (q.get("mode") === "text" || q.get("mode") === "digest" || q.get("mode") === "file") {
      setMode(q.get("mode"));
    }
    if (qdigest) {
      // "+" in base64 arrives as a space when the link was not escaped.
      digestIn.value = qdigest.replace(/ /g, "+");
      setMode("digest");
      if (qalg === "sha256" || qalg === "sm3") {
        algIn.value = qalg;
      }
    }
    showPane();
    if (qid && qdigest) {
      verify();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var b = $("lang");
    if (b) {
      b.addEventListener("click", function () {
        setLang(lang === "en" ? "zh" : "en");
      });
    }
    if (document.body.getAttribute("data-page") === "verify") {
      initVerify();
    }
    applyLang();
  });

  // For tests and the curious: the same ID check as the server's.
  window.EvidencePortal = { parseID: parseID, checkDigest: checkDigest };
})();
