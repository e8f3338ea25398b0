// QR scanning for the verification portal, loaded when the visitor first
// presses 扫描二维码: the camera picture is decoded on this device (the
// browser's BarcodeDetector where it has one, else the bundled jsQR), and a
// code naming a record of this node — its verification link, or a bare
// evidence ID — opens that record. Nothing is uploaded; a link to another
// site is shown, never followed by itself.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  // interpret says what a decoded text names: {id} for a record of this
  // node (a verification link on one of origins: the page's own and the
  // node's public URL's), {elsewhere: origin, href} for a verification
  // link of another site, {other: text} otherwise.
  function interpret(text, origins) {
    origins = origins || [location.origin];
    var s = String(text).trim();
    var parse = window.EvidencePortal && window.EvidencePortal.parseID;
    if (/^https?:[/][/]/i.test(s)) {
      var u;
      try {
        u = new URL(s);
      } catch (e) {
        return { other: s };
      }
      var id = u.searchParams.get("id");
      if (!id || !/\/verify\/?$/.test(u.pathname)) {
        return { other: s };
      }
      if (origins.indexOf(u.origin) < 0) {
        return { elsewhere: u.origin, href: u.href };
      }
      return { id: id };
    }
    if (parse && parse(s).id) {
      return { id: s };
    }
    return { other: s };
  }

  var session = null;

  // open shows the scanner. o: {t, jsQR (URL), loadScript, origins, onID(id)}.
  function open(o) {
    if (session) {
      return;
    }
    var dlg = $("scan-dialog"), video = $("scan-video"), st = $("scan-status"), closeBtn = $("scan-close");
    var t = o.t;
    var s = { stream: null, timer: 0, closed: false, detector: null, jsQR: null, canvas: null };
    session = s;
    st.textContent = t("scanStarting");

    function close() {
      if (s.closed) {
        return;
      }
      s.closed = true;
      session = null;
      clearTimeout(s.timer);
      if (s.stream) {
        s.stream.getTracks().forEach(function (tr) { tr.stop(); });
      }
      video.srcObject = null;
      if (dlg.open) {
        dlg.close();
      }
      closeBtn.removeEventListener("click", close);
      dlg.removeEventListener("close", close);
      $("scan").focus();
    }
    closeBtn.addEventListener("click", close);
    dlg.addEventListener("close", close);
    dlg.showModal();

    function say(node) {
      st.textContent = "";
      st.appendChild(typeof node === "string" ? document.createTextNode(node) : node);
    }

    function found(text) {
      var r = interpret(text, o.origins);
      if (r.id) {
        close();
        o.onID(r.id);
        return true;
      }
      if (r.elsewhere) {
        var p = document.createElement("span");
        p.appendChild(document.createTextNode(t("scanElsewhere", { origin: r.elsewhere }) + " "));
        var a = document.createElement("a");
        a.href = r.href;
        a.rel = "noopener noreferrer";
        a.textContent = t("scanOpenElsewhere", { origin: r.elsewhere });
        p.appendChild(a);
        say(p);
        return true; // stop scanning: the visitor decides
      }
      say(t("scanOther", { text: r.other.slice(0, 120) }));
      return false;
    }

    // decode reads one frame: a Promise of the text of a QR code in it, or null.
    function decode() {
      if (s.detector) {
        return s.detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      }
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) {
        return Promise.resolve(null);
      }
      var scale = Math.min(1, 800 / Math.max(w, h));
      var cw = Math.round(w * scale), ch = Math.round(h * scale);
      if (!s.canvas) {
        s.canvas = document.createElement("canvas");
      }
      s.canvas.width = cw;
      s.canvas.height = ch;
      var ctx = s.canvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0, cw, ch);
      var img = ctx.getImageData(0, 0, cw, ch);
      var code = s.jsQR(img.data, cw, ch, { inversionAttempts: "attemptBoth" });
      return Promise.resolve(code ? code.data : null);
    }

    function tick() {
      if (s.closed) {
        return;
      }
      decode().then(function (text) {
        if (s.closed) {
          return;
        }
        if (text && found(text)) {
          return;
        }
        s.timer = setTimeout(tick, text ? 1000 : 120);
      }, function () {
        s.timer = setTimeout(tick, 250);
      });
    }

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(t("scanNoCamera", { msg: "no camera access in this browser (it needs HTTPS or localhost)" }));
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
      if (s.closed) {
        stream.getTracks().forEach(function (tr) { tr.stop(); });
        return null;
      }
      s.stream = stream;
      video.srcObject = stream;
      return video.play();
    }).then(function () {
      if (typeof window.BarcodeDetector === "function" && window.BarcodeDetector.getSupportedFormats) {
        return window.BarcodeDetector.getSupportedFormats().then(function (f) {
          return f.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
        }, function () { return null; });
      }
      return null;
    }).then(function (detector) {
      s.detector = detector;
      if (!detector) {
        return o.loadScript(o.jsQR).then(function () { s.jsQR = window.jsQR; });
      }
      return null;
    }).then(function () {
      if (s.closed) {
        return;
      }
      st.setAttribute("data-decoder", s.detector ? "BarcodeDetector" : "jsQR");
      say(t("scanLooking"));
      tick();
    }).catch(function (e) {
      if (!s.closed) {
        say(t("scanNoCamera", { msg: (e && (e.message || e.name)) || String(e) }));
      }
    });
  }

  window.EvidenceScan = { open: open, interpret: interpret };
})();
