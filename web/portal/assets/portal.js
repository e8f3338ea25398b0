// Verification portal: language switch, evidence ID check, hashing in a
// worker, calls to the public API, and the result.
//
// A check passes only on what the visitor gives: a link or a QR code names a
// record, never the content. Opened with an ID alone, the page shows the
// record (checked on its own, GET /api/v1/verify?id=) and asks for the file
// or text; only a digest computed here from that file or text, or one the
// visitor typed (and the result says so), is compared.
//
// Loaded (blocking, small, cached) in <head> so that the chosen language is
// set before the first paint; everything else waits for the DOM.
(function () {
  "use strict";

  // ---- language ---------------------------------------------------------
  var LANG_KEY = "evidence-portal-lang";

  // Labels of the record's fields are those of the evidence certificate
  // (node/pdf/certificate.go), so that a clerk finds the same words on both.
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
      lead: "输入统一证据编号（或扫描证书上的二维码），再选择您手中的文件、粘贴文本或输入摘要，即可核对它是否与区块链上的存证记录一致。没有编号时，直接选择文件即可查找它的存证记录。",
      idLabel: "统一证据编号",
      idHint: "27 位字母和数字，例如 01M83X7VS-K89V4F2ZG-F28CEZDZ2；空格、连字符、大小写均可。不知道编号？留空并选择文件，即可按文件查找存证记录。",
      scan: "扫描二维码",
      modeLegend: "核验方式",
      modeFile: "文件",
      modeText: "文本",
      modeDigest: "摘要",
      fileLabel: "选择文件",
      filePick: "选择文件…",
      dropText: "或将文件拖放到此处",
      noFile: "未选择文件",
      fileChosen: "已选择：{name}（{size}）",
      textLabel: "粘贴存证文本",
      textHint: "按 UTF-8 原样计算摘要：每个空格、换行、标点都会影响结果。",
      digestLabel: "文件摘要",
      digestHint: "64 位十六进制或 44 位 Base64。输入的摘要不经本机计算，核验结果会注明“按您输入的摘要”。",
      algLabel: "摘要算法",
      algAuto: "按存证记录",
      privacy: "文件不会上传：摘要在您的浏览器中计算，只有摘要（数字指纹）发送给核验服务。",
      submit: "查询核验",
      cancel: "取消",
      hashing: "正在本机计算摘要…",
      foot: "本页面不加载任何外部资源。核验结果由本节点根据账本给出；也可下载电子证据包离线独立核验。",
      footHow: "三项核验分别证明什么？",
      scanTitle: "扫描证书上的二维码",
      scanHint: "请将二维码置于取景框内。画面只在本机处理，不会上传。",
      scanClose: "关闭",
      scanStarting: "正在打开摄像头…",
      scanLooking: "正在识别二维码…",
      scanNoCamera: "无法使用摄像头：{msg}。也可以手动输入证书上的统一证据编号。",
      scanOther: "该二维码不是核验链接或统一证据编号：{text}",
      scanElsewhere: "该二维码指向另一个网站：{origin}。本节点只核验本节点的记录；如需打开，请自行确认该网站。",
      scanOpenElsewhere: "打开 {origin}",

      errIDEmpty: "请输入统一证据编号，或在下方选择文件以按文件查找存证记录。",
      errIDChecksum: "校验位不符：编号可能输入有误，请逐位核对。",
      errIDLength: "统一证据编号格式有误：应为 27 位字母和数字，您输入了 {n} 位。",
      errIDChar: "统一证据编号格式有误：含有不能出现在编号中的字符“{c}”。",
      errIDFirst: "统一证据编号格式有误：第一位应为 0–7。",
      errIDZero: "统一证据编号格式有误：编号不能全为 0。",
      errFile: "请选择要核验的文件。",
      errText: "请粘贴要核验的文本。",
      errDigest: "请输入摘要：64 位十六进制或 44 位 Base64。",
      errDigestFormat: "摘要格式有误：应为 64 位十六进制或 44 位 Base64，您输入了 {n} 个字符。",
      modeWarnFile: "该存证记录是文件存证：请选择“文件”并选择您手中的文件（当前选择的是“{mode}”）。",
      modeWarnText: "该存证记录是文本存证：请选择“文本”并粘贴文本（当前选择的是“{mode}”）。",

      progress: "{p}% · 已读取 {done} / {total}",
      statusHashing: "正在本机计算 {alg} 摘要。",
      statusLooking: "正在查询存证记录…",
      statusVerifying: "正在核验…",
      statusFinding: "正在按摘要查找存证记录…",
      hashingAlg: "正在本机计算 {alg} 摘要…",

      outMistypedTitle: "编号可能输入有误",
      outMistyped: "统一证据编号的校验位不符：编号很可能抄写或输入有误，请与证书或原件逐位核对后重试。本次未向服务器查询。",
      outInvalidTitle: "编号格式有误",
      outInvalid: "统一证据编号由 27 位字母和数字组成（可含空格或连字符），请对照证书检查输入。",
      outNotFoundTitle: "未找到存证记录",
      outNotFound: "{node}的账本“{ledger}”中没有以此编号存证的记录。编号的格式与校验位都正确，不是抄写错误。如果这个编号印在您手中的合同或证书上，请向出具方核实：该证书可能出自其他节点，也可能是伪造的。",
      outPendingTitle: "存证尚未上链",
      outPending: "该证据已被本节点受理，正在写入区块链，还未打包进区块，暂时无法核验。请稍后再试。",
      outRecordTitleFile: "该存证记录存在且完整，请选择您手中的文件进行比对",
      outRecordTitleText: "该存证记录存在且完整，请粘贴您手中的文本进行比对",
      outRecord: "仅凭编号、链接或二维码不能证明任何文件与存证一致：只有您提供的文件或文本在本机算得的摘要与存证摘要相同时，三项核验才会全部通过。",
      outPassTitle: "核验通过",
      outPass: "您提供的内容与区块链上的存证记录一致，三项核验全部通过。",
      outPassTypedTitle: "摘要比对一致（按您输入的摘要）",
      outPassTyped: "您输入的摘要与存证摘要相同，存证记录完整。本页没有计算任何文件的摘要：只有该摘要确实是由您手中的文件算得的，才说明文件与存证一致。选择文件即可在本机直接计算。",
      outMismatchTitle: "存证记录完整，但内容不一致",
      outMismatch: "存证记录本身完整有效，但您提供的内容与存证时的内容不同：它可能已被修改，或者不是存证的那一份。",
      outMismatchTypedTitle: "存证记录完整，但您输入的摘要与存证摘要不一致",
      outMismatchTyped: "存证记录本身完整有效，但您输入的摘要与存证摘要不同：请核对摘要与算法，或直接选择文件在本机计算。",
      outVariantTitle: "存证记录完整，但文本不完全一致",
      outVariant: "您粘贴的文本与存证文本不同，但{variant}后，其摘要与存证摘要相同：差别只在空白或换行。请核对原文的换行与末尾空白；严格地说，您粘贴的文本并不是存证的内容。",
      outBrokenTitle: "存证记录校验未通过",
      outBroken: "账本上的存证记录或其证明未能通过校验，结果不可信。请联系本节点的运营方。",
      outFoundTitle: "按文件找到 {n} 条存证记录",
      outFound: "在{node}的账本“{ledger}”中，以下存证记录的摘要与您的文件（{name}，{alg} 摘要在本机计算）相同。请选择一条查看完整的核验结果。",
      outFoundMore: "记录较多，只列出前 {n} 条。",
      outNoneTitle: "本节点的账本中没有该文件的存证记录",
      outNone: "已在{node}的账本“{ledger}”中按您的文件（{name}）的 SHA-256 与 SM3 摘要查找，没有任何存证记录。该文件可能未在本节点存证，或者已被修改；如果您有统一证据编号，请输入编号后核验。",
      outErrorTitle: "核验未完成",
      outNetwork: "无法连接核验服务，请检查网络后重试。",
      outCanceled: "已取消。",
      canceledNote: "已取消：已停止计算摘要，您的文件及其摘要都没有发送给核验服务。可重新选择文件，或点击“查询核验”。",
      summaryFail: "核验未通过：三项核验中有 {n} 项未通过。只有三项全部通过，才能证明您手中的内容就是存证的内容。",
      summaryRecord: "三项核验中的后两项已通过；第 1 项尚未比对。在您提供文件或文本之前，核验不能通过。",
      variant_trimEnd: "去掉末尾的空白和换行",
      variant_addLF: "在末尾加一个换行",
      variant_addCRLF: "在末尾加一个 Windows 换行（CRLF）",
      variant_trimLines: "去掉每行末尾的空格",
      variant_toLF: "把换行改为 LF（Unix）",
      variant_toCRLF: "把换行改为 CRLF（Windows）",
      variant_toCRLF_trimEnd: "把换行改为 CRLF（Windows）并去掉末尾空白",
      variant_toCRLF_addCRLF: "把换行改为 CRLF（Windows）并在末尾加一个换行",
      variant_toLF_trimEnd: "把换行改为 LF 并去掉末尾空白",
      noteLinkDigestSame: "打开本页的链接附带了一个摘要，它与存证摘要相同。链接中的摘要不是您提供的内容，不参与比对。",
      noteLinkDigestDiffers: "打开本页的链接附带的摘要（{digest}）与存证摘要不同：该链接或二维码可能被改动过。链接中的摘要不参与比对。",
      noteModeFile: "该存证记录是文件存证，而您选择了按“{mode}”比对：请改为选择文件。",
      noteModeText: "该存证记录是文本存证，而您选择了按“{mode}”比对：请改为粘贴文本。",
      noteTrusted: "该记录有 {n} 个可信时间戳（RFC 3161），可在电子证据包中离线核验。",

      check_digest_match_pass: "比对结果一致",
      check_digest_match_pass_typed: "比对结果一致（按您输入的摘要）",
      check_digest_match_fail: "比对结果不一致",
      check_digest_match_skip: "尚未比对：请提供文件或文本",
      check_on_ledger_pass: "电子证据已在区块链存证",
      check_on_ledger_fail: "未能确认电子证据已在区块链存证",
      check_on_ledger_skip: "未核验是否已在区块链存证",
      check_proof_intact_pass: "电子数据包完整性校验通过",
      check_proof_intact_fail: "电子数据包完整性校验未通过",
      check_proof_intact_skip: "未校验电子数据包完整性",
      pass: "通过",
      fail: "未通过",
      skip: "未比对",
      checksTitle: "核验项目",
      coordsTitle: "存证信息",
      fID: "统一证据编号",
      fType: "存证类型",
      typeFile: "文件",
      typeText: "文本",
      fAlg: "摘要算法",
      fDigest: "摘要（十六进制）",
      fDigestB64: "摘要（Base64）",
      fDigestOther: "其他摘要（{alg}）",
      fYoursFile: "您的文件的摘要（本机计算）",
      fYoursText: "您的文本的摘要（本机计算）",
      fYoursTyped: "您输入的摘要（未经本机计算）",
      fBlockHash: "区块哈希",
      fHeight: "块高",
      fTime: "存证时间",
      fLedger: "账本",
      fTx: "交易编号",
      fPlatform: "提交平台",
      fDocRef: "平台文档编号",
      fFile: "文件",
      kindEmbedded: "嵌入式账本",
      kindFabric: "Hyperledger Fabric 联盟链",
      beijing: "（北京时间 UTC+8）",
      timeNoteEmbedded: "时间由节点时钟给出，并由节点签入区块封印；非可信时间戳。",
      timeNoteFabric: "时间为交易时间戳：由提交客户端给出并经背书节点签名，节点拒绝与其时钟相差过大的时间；非可信时间戳。",
      thisNode: "本节点（{url}）",
      verifiedBy: "核验时间：{time}{beijing} · 核验节点：{node} · 账本：{ledger}",
      fTrusted: "可信时间",
      fLog: "透明日志",
      logCosigned: "已由 {n} 个见证方共同签署：{names}",
      logNoWitness: "已纳入透明日志检查点，尚无见证方共同签署",
      logNote: "第 {index} 条，检查点共 {size} 条记录；签名可在电子证据包中离线核验（evidencectl verify-package --witness-key）",
      trustedPending: "可信时间戳尚未取得（已向时间戳服务机构申请）",
      trustedNote: "RFC 3161 可信时间戳，时间戳服务机构：{tsa}",
      hashedLocal: "已在本机计算 {alg} 摘要：{size}，用时 {dur}；文件未上传。",
      seconds: "{s} 秒",
      comma: "，",
      colon: "：",
      hashedText: "已在本机计算文本的 {alg} 摘要，文本未上传。",
      link: "本记录的核验链接（可复制分享；打开后须由对方自行选择文件）",
      print: "打印",
      certificate: "存证证书（PDF）",
      evpackage: "电子证据包（PDF）",
      report: "核验报告（PDF）",
      downloadLoading: "正在生成…",
      packageDone: "已下载电子证据包 {name}。证据数字指纹（整个文件的 SHA-256）：{fp}",
      reportDone: "已下载核验报告 {name}（本节点签名）。文件的 SHA-256：{fp}",
      downloadMismatch: "下载不完整：本机算得的 SHA-256 与节点给出的指纹不同，请重新下载。",
      downloadFailed: "下载失败：{msg}",
      chooseFile: "选择文件进行比对",
      pasteText: "粘贴文本进行比对",
      findByFile: "按此文件查找存证记录",
      verifyThis: "核验此记录",
      foundRecord: "存证记录 {i}",
      printHead: "统一证据编号核验结果 · 打印于 {time}{beijing}"
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
      lead: "Enter the evidence ID (or scan the QR code on the certificate), then choose the file you hold, paste the text or enter a digest, to check that it matches the evidence recorded on the blockchain. No ID? Choose the file alone to find its records.",
      idLabel: "Evidence ID",
      idHint: "27 letters and digits, e.g. 01M83X7VS-K89V4F2ZG-F28CEZDZ2; spaces, hyphens and lower case are fine. No ID? Leave it empty and choose the file to find its records.",
      scan: "Scan QR code",
      modeLegend: "Verify by",
      modeFile: "File",
      modeText: "Text",
      modeDigest: "Digest",
      fileLabel: "Choose a file",
      filePick: "Choose a file…",
      dropText: "or drop a file here",
      noFile: "No file chosen",
      fileChosen: "Chosen: {name} ({size})",
      textLabel: "Paste the recorded text",
      textHint: "The digest is computed over the exact UTF-8 text: every space, line break and punctuation mark counts.",
      digestLabel: "Digest",
      digestHint: "64 hex digits or 44 base64 characters. A digest you type is not computed here; the result says “by the digest you entered”.",
      algLabel: "Algorithm",
      algAuto: "As recorded",
      privacy: "Your file is not uploaded: its digest is computed in your browser, and only the digest (a digital fingerprint) is sent.",
      submit: "Verify",
      cancel: "Cancel",
      hashing: "Computing the digest on this computer…",
      foot: "This page loads nothing from other sites. Results are given by this node from its ledger; the evidence package can also be checked offline.",
      footHow: "What does each check prove?",
      scanTitle: "Scan the QR code on the certificate",
      scanHint: "Hold the QR code inside the frame. The picture is processed on this device only and never uploaded.",
      scanClose: "Close",
      scanStarting: "Opening the camera…",
      scanLooking: "Looking for a QR code…",
      scanNoCamera: "The camera cannot be used: {msg}. You can type the evidence ID from the certificate instead.",
      scanOther: "This QR code is neither a verification link nor an evidence ID: {text}",
      scanElsewhere: "This QR code points to another site: {origin}. This node verifies its own records only; open it only if you trust that site.",
      scanOpenElsewhere: "Open {origin}",

      errIDEmpty: "Enter the evidence ID, or choose a file below to find its records.",
      errIDChecksum: "The check character does not match: the ID was probably mistyped.",
      errIDLength: "Not a valid evidence ID: it has 27 letters and digits, and you entered {n}.",
      errIDChar: "Not a valid evidence ID: the character “{c}” cannot appear in one.",
      errIDFirst: "Not a valid evidence ID: the first character must be 0–7.",
      errIDZero: "Not a valid evidence ID: it cannot be all zeros.",
      errFile: "Choose the file to verify.",
      errText: "Paste the text to verify.",
      errDigest: "Enter the digest: 64 hex digits or 44 base64 characters.",
      errDigestFormat: "Not a digest: it should be 64 hex digits or 44 base64 characters, and you entered {n} characters.",
      modeWarnFile: "This record is of a file: choose “File” and the file you hold (“{mode}” is chosen now).",
      modeWarnText: "This record is of a text: choose “Text” and paste the text (“{mode}” is chosen now).",

      progress: "{p}% · read {done} of {total}",
      statusHashing: "Computing the {alg} digest on this computer.",
      statusLooking: "Looking up the evidence…",
      statusVerifying: "Verifying…",
      statusFinding: "Looking records up by digest…",
      hashingAlg: "Computing the {alg} digest on this computer…",

      outMistypedTitle: "The ID was probably mistyped",
      outMistyped: "The evidence ID's check character does not match: the ID was most likely mistyped or miscopied. Compare it character by character with the certificate and try again. Nothing was sent to the server.",
      outInvalidTitle: "Not a valid evidence ID",
      outInvalid: "An evidence ID has 27 letters and digits (spaces and hyphens are fine). Please check it against the certificate.",
      outNotFoundTitle: "No evidence found",
      outNotFound: "The ledger “{ledger}” of {node} holds no evidence under this ID. The ID is well formed and its check character is right, so it was not mistyped. If it is printed on a contract or certificate you hold, ask whoever issued it: the certificate may come from another node, or be forged.",
      outPendingTitle: "Not on the ledger yet",
      outPending: "This node has accepted the evidence and is writing it to the blockchain, but it is not in a block yet, so it cannot be verified. Please try again in a moment.",
      outRecordTitleFile: "This record exists and is intact: choose the file you hold to compare it",
      outRecordTitleText: "This record exists and is intact: paste the text you hold to compare it",
      outRecord: "An ID, a link or a QR code alone proves nothing about a document: only a file or text you provide, hashed on this computer, that matches the recorded digest passes.",
      outPassTitle: "Verified",
      outPass: "What you provided matches the evidence recorded on the blockchain: all three checks pass.",
      outPassTypedTitle: "Digest matches (by the digest you entered)",
      outPassTyped: "The digest you entered equals the recorded digest, and the record is intact. No file was hashed on this page: this says the file matches only if that digest really was computed from the file you hold. Choose the file to have it hashed here.",
      outMismatchTitle: "The record is intact, but the content differs",
      outMismatch: "The record itself is intact, but what you provided differs from what was recorded: it may have been changed, or it is not the recorded document.",
      outMismatchTypedTitle: "The record is intact, but the digest you entered differs",
      outMismatchTyped: "The record itself is intact, but the digest you entered is not the recorded one: check the digest and its algorithm, or choose the file to have it hashed here.",
      outVariantTitle: "The record is intact, but the text is not exactly the same",
      outVariant: "The text you pasted differs from the recorded one, but after {variant} its digest equals the recorded digest: they differ only in white space or line breaks. Check the original's line breaks and trailing spaces; strictly, the text you pasted is not what was recorded.",
      outBrokenTitle: "The record failed its checks",
      outBroken: "The record on the ledger or its proof does not verify, so the result cannot be trusted. Please contact this node's operator.",
      outFoundTitle: "{n} record(s) of this file found",
      outFound: "In the ledger “{ledger}” of {node}, these records hold the digest of your file ({name}; its {alg} digest was computed on this computer). Choose one to see its full verification.",
      outFoundMore: "There are more; the first {n} are listed.",
      outNoneTitle: "This node's ledger holds no record of this file",
      outNone: "The ledger “{ledger}” of {node} was searched for the SHA-256 and SM3 digests of your file ({name}): no record holds them. The file may not have been recorded on this node, or it was changed. If you have an evidence ID, enter it and verify.",
      outErrorTitle: "Verification not completed",
      outNetwork: "Cannot reach the verification service. Check the network and try again.",
      outCanceled: "Canceled.",
      canceledNote: "Canceled: hashing stopped, and neither your file nor its digest was sent. Choose the file again or press “Verify”.",
      summaryFail: "Verification failed: {n} of the three checks failed. Only when all three pass is what you hold the recorded content.",
      summaryRecord: "Checks 2 and 3 pass; check 1 has not been made. Until you provide the file or text, the verification cannot pass.",
      variant_trimEnd: "removing the white space and line breaks at its end",
      variant_addLF: "adding a line break at its end",
      variant_addCRLF: "adding a Windows line break (CRLF) at its end",
      variant_trimLines: "removing the spaces at the end of each line",
      variant_toLF: "turning its line breaks into LF (Unix)",
      variant_toCRLF: "turning its line breaks into CRLF (Windows)",
      variant_toCRLF_trimEnd: "turning its line breaks into CRLF (Windows) and removing the white space at its end",
      variant_toCRLF_addCRLF: "turning its line breaks into CRLF (Windows) and adding one at its end",
      variant_toLF_trimEnd: "turning its line breaks into LF and removing the white space at its end",
      noteLinkDigestSame: "The link that opened this page carries a digest, equal to the recorded one. A digest in a link is not something you provided and is not compared.",
      noteLinkDigestDiffers: "The link that opened this page carries a digest ({digest}) that differs from the recorded one: the link or QR code may have been altered. A digest in a link is not compared.",
      noteModeFile: "This record is of a file, and you compared by “{mode}”: choose the file instead.",
      noteModeText: "This record is of a text, and you compared by “{mode}”: paste the text instead.",
      noteTrusted: "This record has {n} trusted timestamp(s) (RFC 3161), checkable offline in the evidence package.",

      check_digest_match_pass: "Digest matches",
      check_digest_match_pass_typed: "Digest matches (by the digest you entered)",
      check_digest_match_fail: "Digest does not match",
      check_digest_match_skip: "Not compared yet: provide the file or text",
      check_on_ledger_pass: "Recorded on the blockchain",
      check_on_ledger_fail: "Not confirmed on the blockchain",
      check_on_ledger_skip: "Not checked on the blockchain",
      check_proof_intact_pass: "Evidence package integrity verified",
      check_proof_intact_fail: "Evidence package integrity check failed",
      check_proof_intact_skip: "Evidence package integrity not checked",
      pass: "pass",
      fail: "fail",
      skip: "not compared",
      checksTitle: "Checks",
      coordsTitle: "Record on the ledger",
      fID: "Evidence ID",
      fType: "Evidence type",
      typeFile: "file",
      typeText: "text",
      fAlg: "Digest algorithm",
      fDigest: "Digest (hex)",
      fDigestB64: "Digest (Base64)",
      fDigestOther: "Also recorded ({alg})",
      fYoursFile: "Your file's digest (computed here)",
      fYoursText: "Your text's digest (computed here)",
      fYoursTyped: "The digest you entered (not computed here)",
      fBlockHash: "Block hash",
      fHeight: "Block height",
      fTime: "Ledger time",
      fLedger: "Ledger",
      fTx: "Transaction ID",
      fPlatform: "Submitting platform",
      fDocRef: "Platform document ref.",
      fFile: "File",
      kindEmbedded: "embedded ledger",
      kindFabric: "Hyperledger Fabric consortium chain",
      beijing: " (Beijing time, UTC+8)",
      timeNoteEmbedded: "Time asserted by the node's clock and signed in the block seal; not a trusted timestamp.",
      timeNoteFabric: "Time: the transaction timestamp, given by the submitting client and signed by the endorsers; peers refuse times far from their clocks; not a trusted timestamp.",
      thisNode: "this node ({url})",
      verifiedBy: "Verified at {time}{beijing} · by {node} · ledger {ledger}",
      fTrusted: "Trusted time",
      fLog: "Transparency log",
      logCosigned: "cosigned by {n} witness(es): {names}",
      logNoWitness: "in a transparency-log checkpoint, not cosigned by a witness yet",
      logNote: "record {index} of a checkpoint of {size}; the signatures are checkable offline in the evidence package (evidencectl verify-package --witness-key)",
      trustedPending: "pending: RFC 3161 timestamps are requested from the time-stamping authorities",
      trustedNote: "RFC 3161 timestamp by {tsa}",
      hashedLocal: "The {alg} digest was computed on this computer: {size} in {dur}. The file was not uploaded.",
      seconds: "{s} s",
      comma: ", ",
      colon: ": ",
      hashedText: "The {alg} digest of the text was computed on this computer. The text was not uploaded.",
      link: "Link to this record (to share; whoever opens it must choose their own file)",
      print: "Print",
      certificate: "Evidence certificate (PDF)",
      evpackage: "Evidence package (PDF)",
      report: "Verification report (PDF)",
      downloadLoading: "Making it…",
      packageDone: "Downloaded the evidence package {name}. Its fingerprint (SHA-256 of the whole file): {fp}",
      reportDone: "Downloaded the verification report {name}, signed by this node. Its SHA-256: {fp}",
      downloadMismatch: "The download is not whole: its SHA-256 computed here differs from the node's fingerprint. Download it again.",
      downloadFailed: "The download failed: {msg}",
      chooseFile: "Choose the file to compare",
      pasteText: "Paste the text to compare",
      findByFile: "Find the records of this file",
      verifyThis: "Verify this record",
      foundRecord: "Record {i}",
      printHead: "Evidence verification result · printed {time}{beijing}"
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


  // formatBeijing shows an RFC 3339 time as the certificate does: Beijing
  // time (UTC+8), to the millisecond.
  function formatBeijing(s) {
    var d = typeof s === "string" ? new Date(s) : s;
    if (isNaN(d.getTime())) {
      return String(s);
    }
    var b = new Date(d.getTime() + 8 * 3600 * 1000);
    function p(n, w) { n = String(n); while (n.length < (w || 2)) { n = "0" + n; } return n; }
    return b.getUTCFullYear() + "-" + p(b.getUTCMonth() + 1) + "-" + p(b.getUTCDate()) + " " +
      p(b.getUTCHours()) + ":" + p(b.getUTCMinutes()) + ":" + p(b.getUTCSeconds()) + "." + p(b.getUTCMilliseconds(), 3);
  }

  function groupID(id) {
    return id && id.length === 27 ? id.slice(0, 9) + "-" + id.slice(9, 18) + "-" + id.slice(18) : id;
  }

  // textVariants lists the white-space and line-break variants of a text
  // worth trying when it does not match: a text copied through an editor,
  // an e-mail or a textarea (which turns CRLF into LF) often differs only
  // there.
  function textVariants(text) {
    var out = [], seen = {};
    seen[text] = true;
    function add(key, s) {
      if (!seen[s]) {
        seen[s] = true;
        out.push({ key: key, text: s });
      }
    }
    var lf = text.replace(/\r\n?/g, "\n");
    var crlf = lf.replace(/\n/g, "\r\n");
    var trim = function (s) { return s.replace(/[\s\u3000]+$/, ""); };
    add("trimEnd", trim(text));
    add("addLF", text + "\n");
    add("addCRLF", text + "\r\n");
    add("trimLines", text.replace(/[ \t\u3000]+(?=\r?\n|$)/g, ""));
    add("toLF", lf);
    add("toCRLF", crlf);
    add("toCRLF_trimEnd", trim(crlf));
    add("toCRLF_addCRLF", trim(crlf) + "\r\n");
    add("toLF_trimEnd", trim(lf));
    return out;
  }

  // ---- the verification page -------------------------------------------------
  // parseLogProof reads a receipt's log_proof (c2sp.org/tlog-proof): the
  // index, the checkpoint's size and the names on its signature lines
  // other than the log's own: the witnesses. The log signs first; after a
  // key rotation it signs with both its keys under the same name, so no
  // line with the first line's name is a witness, and no witness counts
  // twice. The portal only shows the names; the node's check 3 and the
  // offline verifier check the signatures.
  function parseLogProof(text) {
    if (typeof text !== "string" || text.indexOf("c2sp.org/tlog-proof@v1\n") !== 0) {
      return null;
    }
    var m = /^c2sp\.org\/tlog-proof@v1\nindex (\d+)\n/.exec(text);
    var parts = text.split("\n\n");
    if (!m || parts.length < 3) {
      return null;
    }
    var body = parts[1].split("\n");
    var names = parts.slice(2).join("\n\n").split("\n").filter(function (l) { return l.indexOf("\u2014 ") === 0; })
      .map(function (l) { return l.split(" ")[1]; });
    return {
      index: m[1], size: body[1] || "?",
      witnesses: names.filter(function (n, i) { return n !== names[0] && names.indexOf(n) === i; })
    };
  }

  function initVerify() {
    var form = $("form"), idIn = $("id"), fileIn = $("file"), textIn = $("text"), digestIn = $("digest"), algIn = $("alg");
    var go = $("go"), cancel = $("cancel"), box = $("progress-box"), bar = $("progress"), ptext = $("progress-text");
    var status = $("status"), result = $("result"), canceled = $("canceled"), drop = $("drop"), fileName = $("file-name");
    var modeWarn = $("mode-warn");
    var body = document.body;
    var workerURL = body.getAttribute("data-worker");
    var libs = { wasm: body.getAttribute("data-wasm") };
    var worker = null, run = 0, busy = false;
    var hashes = typeof WeakMap === "function" ? new WeakMap() : null; // File → {alg: hash}
    var recordType = null; // the type of the record last shown (file|text)
    var userMode = false; // the visitor chose the mode themselves
    var linkDigest = null; // a digest a link carried: never compared, only noted
    var nodeInfo = null; // promise of {name, kind}

    function mode() {
      var r = form.querySelector("input[name=mode]:checked");
      return r ? r.value : "file";
    }

    function showPane() {
      var m = mode();
      $("pane-file").hidden = m !== "file";
      $("pane-text").hidden = m !== "text";
      $("pane-digest").hidden = m !== "digest";
      drawModeWarn();
    }

    function setMode(m) {
      var r = form.querySelector("input[name=mode][value=" + m + "]");
      if (r) {
        r.checked = true;
      }
      showPane();
    }

    // drawModeWarn warns, next to the choice, when the record's type is
    // known and another was chosen (a digest fits either).
    function drawModeWarn() {
      var m = mode();
      if (!recordType || m === "digest" || m === recordType) {
        modeWarn.hidden = true;
        modeWarn.textContent = "";
        return;
      }
      modeWarn.textContent = t(recordType === "text" ? "modeWarnText" : "modeWarnFile", { mode: t(m === "text" ? "modeText" : "modeFile") });
      modeWarn.hidden = false;
    }

    function currentFile() {
      return fileIn.files && fileIn.files[0] ? fileIn.files[0] : null;
    }

    function drawFileName() {
      var f = currentFile();
      fileName.textContent = f ? t("fileChosen", { name: f.name, size: formatBytes(f.size) }) : t("noFile");
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

    var lastSay = null;
    function say(key, vars) {
      lastSay = key ? { key: key, vars: vars } : null;
      status.textContent = key ? t(key, vars) : "";
    }

    function getNodeInfo() {
      if (!nodeInfo) {
        nodeInfo = api("GET", "/api/v1/ledger").then(function (r) {
          return r.status === 200 && r.body ? { name: r.body.name, kind: r.body.kind, url: r.body.public_url || "" } : { name: "", kind: "", url: "" };
        }, function () { return { name: "", kind: "", url: "" }; });
      }
      return nodeInfo;
    }
    var node = { name: "", kind: "", url: "" }, nodeKnown = false; // once known

    // nodeLabel names this node by its public URL (--public-url), else by
    // the page's origin.
    function nodeLabel() {
      return t("thisNode", { url: node.url || location.origin });
    }
    function ledgerLabel(name, kind) {
      var k = kind === "fabric" ? t("kindFabric") : kind === "embedded" ? t("kindEmbedded") : "";
      return (name || "?") + (k ? (lang === "en" ? " (" + k + ")" : "（" + k + "）") : "");
    }

    // ---- result rendering ----
    var current = null; // {outcome, v, ctx}

    // show draws a result; one that names the node or a record waits for
    // the ledger's name (asked once).
    function show(outcome, v, ctx) {
      var cur = { outcome: outcome, v: v, ctx: ctx || {} };
      cur.ctx.at = cur.ctx.at || new Date();
      current = cur;
      var named = (v && v.receipt) || outcome === "not_found" || outcome === "found" || outcome === "none_found";
      if (!named || nodeKnown) {
        draw(true);
        return;
      }
      getNodeInfo().then(function (n) {
        node = n;
        nodeKnown = true;
        if (current === cur) {
          draw(true);
        }
      });
    }

    function checkState(c, o) {
      if (c.name === "digest_match" && (c.skipped || o === "record")) {
        return "skip";
      }
      return c.pass ? "pass" : "fail";
    }

    function draw(focus) {
      if (!current) {
        result.hidden = true;
        return;
      }
      var o = current.outcome, v = current.v, ctx = current.ctx;
      var rc = v && v.receipt;
      var kind, titleKey, msg, tvars = {};
      var where = { node: nodeLabel(), ledger: node.name || (rc && rc.ledger) || "?", name: ctx.fileName || "", alg: algName(ctx.alg) };
      switch (o) {
        case "pass":
          kind = "pass"; titleKey = "outPassTitle"; msg = t("outPass"); break;
        case "pass_typed":
          kind = "pass"; titleKey = "outPassTypedTitle"; msg = t("outPassTyped"); break;
        case "record":
          kind = "info"; titleKey = rc && rc.type === "text" ? "outRecordTitleText" : "outRecordTitleFile"; msg = t("outRecord"); break;
        case "mismatch":
          kind = "fail";
          if (ctx.variant) {
            titleKey = "outVariantTitle"; msg = t("outVariant", { variant: t("variant_" + ctx.variant) });
          } else if (ctx.typed) {
            titleKey = "outMismatchTypedTitle"; msg = t("outMismatchTyped");
          } else {
            titleKey = "outMismatchTitle"; msg = t("outMismatch");
          }
          break;
        case "proof_invalid":
          kind = "fail"; titleKey = "outBrokenTitle"; msg = t("outBroken"); break;
        case "not_found":
          kind = "warn"; titleKey = "outNotFoundTitle"; msg = t("outNotFound", where); break;
        case "found":
          kind = "info"; titleKey = "outFoundTitle"; tvars = { n: ctx.found.length }; msg = t("outFound", where); break;
        case "none_found":
          kind = "warn"; titleKey = "outNoneTitle"; msg = t("outNone", where); break;
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
      var mark = kind === "pass" ? "✓" : kind === "warn" ? "!" : kind === "info" ? "i" : "✗";
      result.textContent = "";
      result.setAttribute("data-outcome", o);
      result.appendChild(el("p", { "class": "print-head", text: t("printHead", { time: formatBeijing(new Date()).slice(0, 19), beijing: t("beijing") }) }));
      var title = el("h2", { id: "result-title", tabindex: "-1" }, [el("span", { "class": "badge", "aria-hidden": "true", text: mark }),
        el("span", { "class": "title-text", text: t(titleKey, tvars) })]);
      var verdict = el("div", { "class": "verdict verdict-" + kind }, [title, el("p", { id: "result-message", text: msg })]);
      var checks = v && v.checks && v.checks.length && o !== "not_found" && o !== "pending" ? v.checks : null;
      if (checks && (o === "mismatch" || o === "proof_invalid")) {
        var failed = checks.filter(function (c) { return !c.pass; }).length;
        verdict.appendChild(el("p", { "class": "summary", id: "result-summary", text: t("summaryFail", { n: failed }) }));
      } else if (o === "record") {
        verdict.appendChild(el("p", { "class": "summary", id: "result-summary", text: t("summaryRecord") }));
      }
      // Notes that explain a failure or qualify a pass.
      var notes = [];
      if (ctx.modeNote && (o === "mismatch" || o === "pass" || o === "pass_typed")) {
        notes.push(el("li", { "data-note": "mode", text: t(ctx.modeNote.type === "text" ? "noteModeText" : "noteModeFile", { mode: t(ctx.modeNote.mode === "text" ? "modeText" : "modeFile") }) }));
      }
      if (ctx.linkDigest && rc) {
        var same = (rc.digests || []).some(function (d) { return d.hex === ctx.linkDigest || d.base64 === ctx.linkDigest; }) ||
          rc.digest_hex === String(ctx.linkDigest).toLowerCase() || rc.digest_base64 === ctx.linkDigest;
        notes.push(el("li", { "data-note": same ? "link-digest-same" : "link-digest-differs", "class": same ? "note-info" : null,
          text: same ? t("noteLinkDigestSame") : t("noteLinkDigestDiffers", { digest: ctx.linkDigest }) }));
      }
      if (notes.length) {
        verdict.appendChild(el("ul", { "class": "notes" }, notes));
      }
      result.appendChild(verdict);

      if (o === "record" && rc) {
        var act = el("button", { type: "button", "class": "primary no-print", id: "choose", text: t(rc.type === "text" ? "pasteText" : "chooseFile") });
        act.addEventListener("click", function () {
          setMode(rc.type === "text" ? "text" : "file");
          if (rc.type === "text") {
            textIn.focus();
          } else {
            fileIn.focus();
            fileIn.click();
          }
        });
        result.appendChild(el("p", { "class": "no-print" }, [act]));
      }

      if (checks) {
        result.appendChild(el("h3", { text: t("checksTitle") }));
        var ol = el("ol", { "class": "checks" });
        checks.forEach(function (c) {
          var state = checkState(c, o);
          var key = "check_" + c.name + "_" + state + (c.name === "digest_match" && state === "pass" && ctx.typed ? "_typed" : "");
          ol.appendChild(el("li", { "class": "check check-" + state, "data-check": c.name, "data-pass": String(!!c.pass), "data-state": state }, [
            el("span", { "class": "badge", "aria-hidden": "true", text: state === "pass" ? "✓" : state === "skip" ? "–" : "✗" }),
            el("div", null, [
              el("span", { "class": "check-title", text: t(key) }),
              el("span", { "class": "check-state", text: t(state) }),
              el("p", { "class": "reason", text: lang === "en" ? c.reason : (c.reason_zh || c.reason) })
            ])
          ]));
        });
        result.appendChild(ol);
      }

      if (o === "found") {
        drawFound(ctx);
      }

      if (rc) {
        result.appendChild(el("h3", { text: t("coordsTitle") }));
        result.appendChild(coords(rc, o, ctx));
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
        result.setAttribute("data-hash-engine", ctx.engine || "");
      } else {
        result.removeAttribute("data-hash-ms");
        result.removeAttribute("data-hash-bytes");
        result.removeAttribute("data-hash-engine");
      }
      if (rc || o === "not_found" || o === "found" || o === "none_found") {
        result.appendChild(el("p", { "class": "verified-by", id: "verified-by", text: t("verifiedBy", {
          time: formatBeijing(ctx.at), beijing: t("beijing"), node: nodeLabel(), ledger: ledgerLabel(node.name || (rc && rc.ledger), node.kind || (rc && rc.ledger_kind)) }) }));
      }
      if (o === "not_found" && ctx.file) {
        var find = el("button", { type: "button", "class": "secondary no-print", id: "find-by-file", text: t("findByFile") });
        find.addEventListener("click", function () { findByFile(ctx.file); });
        result.appendChild(el("p", { "class": "no-print" }, [find]));
      }
      if (rc) {
        result.appendChild(actions(rc, o, ctx));
      }
      result.hidden = false;
      status.textContent = t(titleKey, tvars) + t("colon") + msg;
      if (focus) {
        title.focus();
      }
    }

    // coords lists the record with the certificate's labels.
    function coords(rc, o, ctx) {
      var dl = el("dl", { "class": "coords" });
      var row = function (key, value, mono, extra, cls, label) {
        dl.appendChild(el("dt", { text: label || t(key) }));
        dl.appendChild(el("dd", { "class": (mono ? "mono" : "") + (cls ? " " + cls : ""), "data-field": key }, [value, extra]));
      };
      row("fID", groupID(rc.id), true, el("span", { "class": "sub", text: rc.id }));
      row("fType", rc.type === "text" ? t("typeText") : t("typeFile"));
      row("fAlg", algName(rc.algorithm));
      row("fDigest", rc.digest_hex, true);
      row("fDigestB64", rc.digest_base64, true);
      (rc.digests || []).forEach(function (d) {
        if (d.algorithm !== rc.algorithm) {
          row("fDigestOther", d.hex, true, el("span", { "class": "sub", text: "Base64: " + d.base64 }), null, t("fDigestOther", { alg: algName(d.algorithm) }));
        }
      });
      var differs = o === "mismatch" ? "differs" : null;
      if (ctx.digestHex) {
        row("fYours", ctx.digestHex, true, el("span", { "class": "sub", text: algName(ctx.alg) + " · Base64: " + hexToBase64(ctx.digestHex) }), differs,
          t(ctx.hashed === "text" ? "fYoursText" : "fYoursFile"));
      } else if (ctx.typed) {
        row("fYours", ctx.typed, true, el("span", { "class": "sub", text: algName(ctx.alg) }), differs, t("fYoursTyped"));
      }
      if (ctx.fileName && ctx.hashed === "file") {
        row("fFile", ctx.fileName + (lang === "en" ? " (" : "（") + formatBytes(ctx.bytes) + (lang === "en" ? ")" : "）"));
      }
      row("fHeight", String(rc.block_number));
      row("fBlockHash", rc.block_hash, true);
      var proofKind = rc.proof && rc.proof.kind || "";
      row("fTime", el("time", { datetime: rc.ledger_time, text: formatBeijing(rc.ledger_time) + t("beijing") }), false,
        el("span", { "class": "sub", text: rc.ledger_time + " (UTC) · " + t(/^fabric/.test(proofKind) || rc.ledger_kind === "fabric" ? "timeNoteFabric" : "timeNoteEmbedded") }));
      if (rc.timestamps && rc.timestamps.length) {
        row("fTrusted", el("span", null, rc.timestamps.map(function (ts) {
          return el("span", { "class": "stamp" }, [
            el("time", { datetime: ts.gen_time, text: formatBeijing(ts.gen_time) + t("beijing") }),
            el("span", { "class": "sub", text: ts.gen_time + " (UTC) · " + t("trustedNote", { tsa: ts.tsa }) })
          ]);
        })), false, el("span", { "class": "sub", text: t("noteTrusted", { n: rc.timestamps.length }) }));
      } else if (/pending$/.test(rc.time_source || "")) {
        row("fTrusted", t("trustedPending"), false);
      }
      var lp = parseLogProof(rc.log_proof);
      if (lp) {
        row("fLog", lp.witnesses.length ? t("logCosigned", { n: lp.witnesses.length, names: lp.witnesses.join(lang === "en" ? ", " : "、") }) : t("logNoWitness"), false,
          el("span", { "class": "sub", text: t("logNote", { index: lp.index, size: lp.size }) }));
      }
      row("fLedger", ledgerLabel(rc.ledger, rc.ledger_kind));
      if (rc.tx_id) {
        row("fTx", rc.tx_id, true);
      }
      row("fPlatform", rc.platform || "");
      if (rc.doc_ref) {
        row("fDocRef", rc.doc_ref);
      }
      return dl;
    }

    // actions: print, the verification report (when content was
    // compared), the certificate, the evidence package (with its
    // fingerprint) and the link to the record.
    function actions(rc, o, ctx) {
      var wrap = el("div", { "class": "no-print" });
      var bar = el("div", { "class": "result-actions" });
      var out = el("p", { "class": "fingerprint", id: "download-note", "aria-live": "polite" });
      var pr = el("button", { type: "button", id: "print", text: t("print") });
      pr.addEventListener("click", function () { window.print(); });
      bar.appendChild(pr);
      var digest = ctx.digestHex || ctx.typed;
      if (digest && (o === "pass" || o === "pass_typed" || o === "mismatch" || o === "proof_invalid")) {
        var rep = el("button", { type: "button", id: "report", text: t("report") });
        rep.addEventListener("click", function () {
          var req = { id: rc.id, algorithm: ctx.alg, digest: digest, content: ctx.typed ? "digest" : ctx.hashed === "text" ? "text" : "file" };
          if (req.content === "file") {
            req.file_name = ctx.fileName || "file";
          }
          if (req.content !== "digest" && ctx.bytes >= 0) {
            req.size = ctx.bytes;
          }
          download("/api/v1/verify/report.pdf", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) },
            "verification-report-" + rc.id + ".pdf", "reportDone", rep, out);
        });
        bar.appendChild(rep);
      }
      bar.appendChild(el("a", { id: "certificate-link", href: "/api/v1/evidence/" + encodeURIComponent(rc.id) + "/certificate.pdf", text: t("certificate") }));
      var pkg = el("button", { type: "button", id: "package", text: t("evpackage") });
      pkg.addEventListener("click", function () {
        download("/api/v1/evidence/" + encodeURIComponent(rc.id) + "/package.pdf", {}, "evidence-package-" + rc.id + ".pdf", "packageDone", pkg, out);
      });
      bar.appendChild(pkg);
      wrap.appendChild(bar);
      wrap.appendChild(out);
      var q = "/verify?id=" + encodeURIComponent(rc.id) + (lang === "en" ? "&lang=en" : "");
      wrap.appendChild(el("p", { "class": "meta" }, [el("a", { href: q, id: "share-link", text: t("link") })]));
      return wrap;
    }

    // download fetches a PDF the node makes (the package, a report),
    // checks its SHA-256 against the node's fingerprint header here, saves
    // it and shows the fingerprint.
    function download(url, init, name, doneKey, button, out) {
      button.disabled = true;
      out.removeAttribute("data-fingerprint");
      out.setAttribute("data-file", name);
      out.textContent = t("downloadLoading");
      init.credentials = "omit";
      init.cache = "no-store";
      fetch(url, init).then(function (r) {
        if (!r.ok) {
          return r.json().then(function (b) { throw new Error((b && b.error && (lang === "en" ? b.error.message : b.error.message_zh)) || "HTTP " + r.status); },
            function () { throw new Error("HTTP " + r.status); });
        }
        var fp = (r.headers.get("X-Evidence-Fingerprint") || "").toLowerCase();
        return r.blob().then(function (blob) {
          return hashOnce("sha256", blob).then(function (h) {
            if (fp && h.hex !== fp) {
              out.textContent = t("downloadMismatch");
              return;
            }
            var a = el("a", { href: URL.createObjectURL(blob), download: name, hidden: "" });
            document.body.appendChild(a);
            a.click();
            setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 60000);
            out.textContent = t(doneKey, { name: name, fp: h.hex });
            out.setAttribute("data-fingerprint", h.hex);
          });
        });
      }).catch(function (e) {
        out.textContent = t("downloadFailed", { msg: e && e.message ? e.message : String(e) });
      }).then(function () { button.disabled = false; });
    }

    function drawFound(ctx) {
      var ul = el("ol", { "class": "found", id: "found" });
      ctx.found.forEach(function (rc, i) {
        var b = el("button", { type: "button", text: t("verifyThis"), "data-id": rc.id, "aria-describedby": "found-" + i });
        b.addEventListener("click", function () {
          idIn.value = groupID(rc.id);
          setMode("file");
          process();
        });
        var dl = el("dl", { "class": "coords" }, [
          el("dt", { text: t("fID") }), el("dd", { "class": "mono", "data-field": "fID", text: groupID(rc.id) }),
          el("dt", { text: t("fTime") }), el("dd", { text: formatBeijing(rc.ledger_time) + t("beijing") }),
          el("dt", { text: t("fPlatform") }), el("dd", { text: rc.platform || "" }),
          rc.doc_ref ? el("dt", { text: t("fDocRef") }) : null, rc.doc_ref ? el("dd", { text: rc.doc_ref }) : null,
          el("dt", { text: t("fHeight") }), el("dd", { text: String(rc.block_number) })
        ]);
        ul.appendChild(el("li", { "data-id": rc.id }, [el("h3", { id: "found-" + i, text: t("foundRecord", { i: i + 1 }) + " · " + groupID(rc.id) }), dl, b]));
      });
      result.appendChild(ul);
      if (ctx.more) {
        result.appendChild(el("p", { "class": "meta", text: t("outFoundMore", { n: ctx.found.length }) }));
      }
    }

    rerender = function () {
      redrawFieldErrors();
      drawFileName();
      drawModeWarn();
      if (current) {
        draw(false);
      } else if (lastSay) {
        say(lastSay.key, lastSay.vars);
      }
      if (!canceled.hidden) {
        canceled.textContent = t("canceledNote");
      }
      if (busy && box.lastProgress) {
        progressText(box.lastProgress);
      }
      if (busy && box.alg) {
        $("progress-label").textContent = t("hashingAlg", { alg: algName(box.alg) });
      }
    };

    function progressText(p) {
      box.lastProgress = p;
      var pct = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
      bar.value = pct;
      ptext.textContent = t("progress", { p: pct, done: formatBytes(p.done), total: formatBytes(p.total) });
    }

    // work runs one job in a fresh worker: {alg, file|bytes|texts}.
    function work(msg, onProgress) {
      return new Promise(function (resolve, reject) {
        var w = new Worker(workerURL);
        worker = w;
        w.onmessage = function (ev) {
          var m = ev.data;
          if (m.type === "progress") {
            if (onProgress) {
              onProgress(m);
            }
          } else if (m.type === "done") {
            w.terminate();
            if (worker === w) {
              worker = null;
            }
            resolve(m);
          } else if (m.type === "error") {
            w.terminate();
            if (worker === w) {
              worker = null;
            }
            reject({ message: m.message });
          }
        };
        w.onerror = function (ev) {
          ev.preventDefault();
          w.terminate();
          if (worker === w) {
            worker = null;
          }
          reject({ message: ev.message || "worker error" });
        };
        msg.libs = libs;
        w.postMessage(msg);
      });
    }

    // hashOnce hashes a Blob or bytes with no progress shown.
    function hashOnce(alg, input) {
      return work(input instanceof Blob ? { alg: alg, file: input } : { alg: alg, bytes: input });
    }

    // hashFile hashes the file with alg, with the progress bar, once per
    // file and algorithm.
    function hashFile(alg, file) {
      var known = hashes && hashes.get(file);
      if (known && known[alg]) {
        return Promise.resolve(known[alg]);
      }
      box.hidden = false;
      box.alg = alg;
      $("progress-label").textContent = t("hashingAlg", { alg: algName(alg) });
      bar.value = 0;
      ptext.textContent = "";
      box.lastProgress = null;
      say("statusHashing", { alg: algName(alg) });
      return work({ alg: alg, file: file }, progressText).then(function (h) {
        box.hidden = true;
        if (hashes) {
          known = hashes.get(file) || {};
          known[alg] = h;
          hashes.set(file, known);
        }
        return h;
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
      canceled.textContent = t("canceledNote");
      canceled.hidden = false;
      go.focus();
    });

    form.addEventListener("change", function (ev) {
      if (ev.target.name === "mode") {
        userMode = true;
        showPane();
      }
    });

    fileIn.addEventListener("change", function () {
      drawFileName();
      if (currentFile()) {
        process();
      }
    });

    // A real drop zone: the file dropped anywhere on the box is the file
    // chosen, and hashing starts at once.
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (ev) {
        if (ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types || [], "Files") >= 0) {
          ev.preventDefault();
          ev.dataTransfer.dropEffect = "copy";
          drop.classList.add("over");
        }
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (ev) {
      drop.classList.remove("over");
      var files = ev.dataTransfer && ev.dataTransfer.files;
      if (!files || !files.length) {
        return;
      }
      ev.preventDefault();
      try {
        fileIn.files = files;
      } catch (e) { /* older browsers: the input keeps its value */ }
      drawFileName();
      process(files[0]);
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
        process();
      }
    });

    function finish(me, out, ctx) {
      if (!out || me !== run) {
        return;
      }
      setBusy(false);
      show(out.outcome, out.v || null, Object.assign(ctx || {}, out.ctx || {}));
    }

    function failed(me) {
      return function (err) {
        if (me !== run) {
          return;
        }
        setBusy(false);
        box.hidden = true;
        show("error", null, err && err.message && !(err instanceof TypeError) ?
          { message: err.message, messageZH: err.message } : { msgKey: "outNetwork" });
      };
    }

    function reset() {
      stop();
      clearErrors();
      current = null;
      lastSay = null;
      result.hidden = true;
      result.removeAttribute("data-outcome");
      canceled.hidden = true;
    }

    // process does what the form asks: with an ID, the record alone (no
    // content yet) or the verification of the content given; without one,
    // the records of the chosen file.
    function process(dropped) {
      reset();
      var m = mode();
      var file = m === "file" ? (dropped || currentFile()) : null;

      // 1. The ID, checked here: a mistyped ID never reaches the server.
      var p = parseID(idIn.value);
      if (p.error === "empty" && file) {
        findByFile(file);
        return;
      }
      if (p.error === "checksum") {
        fieldError(idIn, $("id-error"), "errIDChecksum");
        show("id_checksum", null, {});
        idIn.focus();
        return;
      }
      if (p.error) {
        fieldError(idIn, $("id-error"), idErrKey[p.error], { n: p.n, c: p.c });
        if (p.error !== "empty") {
          show("id_invalid", null, {});
        }
        idIn.focus();
        return;
      }
      var id = p.id;

      // 2. What the visitor gives, checked before any request; nothing
      // given is fine: the record is shown and asks for it.
      var text = null, dg = null;
      if (m === "text" && textIn.value.length > 0) {
        text = textIn.value;
      } else if (m === "digest" && digestIn.value.trim() !== "") {
        dg = checkDigest(digestIn.value);
        if (dg.error) {
          fieldError(digestIn, $("digest-error"), "errDigestFormat", { n: dg.n });
          digestIn.focus();
          return;
        }
      }
      var given = file || text !== null || dg;

      var me = ++run;
      setBusy(true);
      say("statusLooking");
      var ctx = { linkDigest: linkDigest, file: file, fileName: file ? file.name : "" };
      getNodeInfo();
      api("GET", "/api/v1/verify?id=" + encodeURIComponent(id)).then(function (res) {
        if (me !== run) {
          return null;
        }
        if (res.status !== 200) {
          return apiError(res);
        }
        var rv = res.body;
        if (rv.outcome !== "no_content" || !rv.receipt) {
          return { outcome: rv.outcome, v: rv }; // not_found, pending, proof_invalid
        }
        var rc = rv.receipt;
        recordType = rc.type === "text" ? "text" : "file";
        if (!given) {
          // The mode follows the record's type unless the visitor chose.
          if (!userMode && m !== recordType) {
            setMode(recordType);
          }
          drawModeWarn();
          return { outcome: "record", v: rv };
        }
        drawModeWarn();
        if (m !== "digest" && m !== recordType) {
          ctx.modeNote = { type: recordType, mode: m };
        }
        var alg = (dg && (dg.alg || algIn.value)) || rc.algorithm || "sha256";
        ctx.alg = alg;
        var digestP;
        if (dg) {
          ctx.typed = dg.digest;
          digestP = Promise.resolve(dg.digest);
        } else if (file) {
          digestP = hashFile(alg, file).then(function (h) {
            ctx.digestHex = h.hex; ctx.hashed = "file"; ctx.ms = h.ms; ctx.bytes = h.bytes; ctx.engine = h.engine;
            return h.hex;
          });
        } else {
          say("statusHashing", { alg: algName(alg) });
          digestP = hashOnce(alg, new TextEncoder().encode(text)).then(function (h) {
            ctx.digestHex = h.hex; ctx.hashed = "text"; ctx.ms = h.ms; ctx.bytes = h.bytes; ctx.engine = h.engine;
            return h.hex;
          });
        }
        return digestP.then(function (digest) {
          if (me !== run) {
            return null;
          }
          say("statusVerifying");
          return api("POST", "/api/v1/verify", { id: id, algorithm: alg, digest: digest });
        }).then(function (r) {
          if (!r || me !== run) {
            return null;
          }
          if (r.status !== 200) {
            return apiError(r);
          }
          var out = { outcome: r.body.outcome, v: r.body };
          if (out.outcome === "pass" && dg) {
            out.outcome = "pass_typed";
          }
          if (out.outcome === "mismatch" && text !== null) {
            return diagnoseText(text, alg, r.body.receipt || rc).then(function (variant) {
              ctx.variant = variant;
              return out;
            });
          }
          return out;
        });
      }).then(function (out) { finish(me, out, ctx); }, failed(me));
    }

    // diagnoseText tries the text's white-space and line-break variants
    // here and names the first whose digest is the recorded one (null if
    // none): the verdict stays a mismatch; the note says what differs.
    function diagnoseText(text, alg, rc) {
      var want = {};
      (rc.digests || []).forEach(function (d) { want[d.algorithm] = d.hex; });
      if (!want[alg]) {
        want[alg] = rc.digest_hex;
      }
      var vs = textVariants(text);
      var enc = new TextEncoder();
      return work({ alg: alg, texts: vs.map(function (v) { return enc.encode(v.text).buffer; }) }).then(function (h) {
        for (var i = 0; i < vs.length; i++) {
          if (h.hexes[i] === want[alg]) {
            return vs[i].key;
          }
        }
        return null;
      }, function () { return null; });
    }

    // findByFile finds every record of the file's digest: SHA-256 first,
    // then SM3 (a record made from the digest alone may hold only that).
    function findByFile(file) {
      reset();
      var me = ++run;
      setBusy(true);
      var ctx = { file: file, fileName: file.name };
      getNodeInfo();
      var found = [], more = false;
      function step(alg) {
        return hashFile(alg, file).then(function (h) {
          if (me !== run) {
            return null;
          }
          ctx.alg = alg; ctx.digestHex = h.hex; ctx.hashed = "file"; ctx.ms = h.ms; ctx.bytes = h.bytes; ctx.engine = h.engine;
          say("statusFinding");
          return api("GET", "/api/v1/evidence?digest=" + h.hex + "&algorithm=" + alg + "&limit=50").then(function (r) {
            if (r.status !== 200) {
              return apiError(r);
            }
            (r.body.receipts || []).forEach(function (rc) {
              if (!found.some(function (x) { return x.id === rc.id; })) {
                found.push(rc);
              }
            });
            more = more || !!r.body.next_cursor;
            return null;
          });
        });
      }
      step("sha256").then(function (err) {
        if (err || me !== run) {
          return err;
        }
        return found.length ? null : step("sm3");
      }).then(function (err) {
        if (me !== run) {
          return;
        }
        if (err) {
          finish(me, err, ctx);
          return;
        }
        ctx.found = found;
        ctx.more = more;
        finish(me, { outcome: found.length ? "found" : "none_found", v: null }, ctx);
      }, failed(me));
    }

    // The QR scanner is a separate script, loaded when first used.
    var scanBtn = $("scan");
    scanBtn.addEventListener("click", function () {
      Promise.all([loadScript(body.getAttribute("data-qr")), getNodeInfo()]).then(function (r) {
        var origins = [location.origin];
        try {
          if (r[1].url) {
            origins.push(new URL(r[1].url).origin);
          }
        } catch (e) { /* not a URL: the page's origin only */ }
        window.EvidenceScan.open({
          t: t, jsQR: body.getAttribute("data-jsqr"), loadScript: loadScript, origins: origins,
          onID: function (s) {
            idIn.value = s;
            userMode = false;
            process();
          }
        });
      }, function () { /* nothing to scan with */ });
    });

    // Links and QR codes: /verify?id=… names a record; the page shows it
    // and asks for the file or text. A digest in the link is never the
    // visitor's: it is not compared, only noted (old certificates carry
    // one).
    var q = new URLSearchParams(location.search);
    var qid = q.get("id"), qmode = q.get("mode");
    if (q.get("digest")) {
      linkDigest = q.get("digest").replace(/ /g, "+");
    }
    if (qmode === "text" || qmode === "digest" || qmode === "file") {
      setMode(qmode);
      userMode = true;
    }
    var qalg = (q.get("alg") || q.get("algorithm") || "").toLowerCase().replace("-", "");
    if (qalg === "sha256" || qalg === "sm3") {
      algIn.value = qalg;
    }
    showPane();
    drawFileName();
    if (qid) {
      idIn.value = qid;
      process();
    }
  }

  var scripts = {};
  function loadScript(src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = src;
        s.onload = resolve;
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return scripts[src];
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
  window.EvidencePortal = { parseID: parseID, checkDigest: checkDigest, formatBeijing: formatBeijing, textVariants: textVariants, parseLogProof: parseLogProof };
})();
