// The quote explorer page: plain browser JavaScript, no dependencies, everything served by tdx-attest.
// The server decodes (POST api/decode) and verifies (POST api/verify); this file only renders. A static build
// (`tdx-attest explorer build` without --api) answers both calls in the page instead: lib/ holds the verifier's
// ES modules (WebCrypto), loaded on first use, and no request leaves the page.

const MAX_HEX_RENDER = 64 * 1024;
const REGION_ORDER = ["header", "body", "signatureData", "qeReport", "certificationData", "trailing"];

const $ = (id) => document.getElementById(id);

const apiBase = (() => {
  const meta = document.querySelector('meta[name="tdx-attest-api"]');
  const base = meta?.getAttribute("content")?.trim() ?? "";
  return base === "" ? "" : base.replace(/\/+$/, "") + "/";
})();

/** "local": decode and verify in the page (static build); "server": the tdx-attest server's API. */
const apiMode =
  document.querySelector('meta[name="tdx-attest-mode"]')?.getAttribute("content")?.trim() === "local"
    ? "local"
    : "server";
let localModule = null;

/** What the user gave us: pasted text or the bytes of a dropped/opened file. */
let quoteInput = null;
let current = null; // { bytes, sha256, layout, regions, treeItems, byteSpans, asciiSpans }
let highlighted = [];
let selectedItem = null;

// A verdict belongs to the bytes it judged. `verdictFor` names them ({ sha256, size }) while a verdict is on
// screen; when other bytes are shown, or the quote input changes, the verdict goes (see retireVerdict).
let verdictFor = null;
/** What the verdict panel shows: "intro", "verifying", "verdict", "error" or "retired". */
let verdictState = "intro";
let verdictIntro = [];
/** Bumped when the quote input changes, so an answer to a request about older input is dropped. */
let inputGeneration = 0;
/** The latest decode/verify request; only its answer is rendered. */
let requestSeq = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function hex2(n) {
  return n.toString(16).padStart(2, "0");
}

function fmtOffset(n) {
  return `${n} (0x${n.toString(16)})`;
}

// ---------------------------------------------------------------- SHA-256
// Names the bytes on screen (and those a verdict judged) so the two can be compared, also with
// `sha256sum quote.bin`. Written out here (FIPS 180-4) because WebCrypto's digest exists only on secure
// origins, and a static build may be hosted on plain http. A name, not a security check.

const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

function sha256Hex(bytes) {
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  // Padding: 0x80, zeros, then the length in bits as a 64-bit big-endian number, to a multiple of 64 bytes.
  const padded = new Uint8Array((bytes.length + 9 + 63) & ~63);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[t] + w[t];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}

/** How the page names a quote's bytes: the first 16 hex digits of their SHA-256 (the whole in a tooltip). */
function bytesName(sha256, size) {
  return el(
    "span",
    { class: "sha", title: `SHA-256 ${sha256}` },
    "SHA-256 ",
    el("code", { text: `${sha256.slice(0, 16)}…` }),
    ` (${size} bytes)`,
  );
}

// ---------------------------------------------------------------- input

function isProbablyText(bytes) {
  const n = Math.min(bytes.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) return false;
  }
  return true;
}

async function loadQuoteFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  quoteInputChanged();
  if (isProbablyText(bytes)) {
    $("quote-text").value = new TextDecoder().decode(bytes);
    quoteInput = { kind: "text", text: $("quote-text").value };
    $("quote-source").textContent = `${file.name}: text, ${bytes.length} characters`;
  } else {
    quoteInput = { kind: "bytes", bytes, name: file.name };
    $("quote-text").value = "";
    $("quote-text").placeholder =
      `Binary file ${file.name} loaded (${bytes.length} bytes). Paste here to replace it.`;
    $("quote-source").textContent = `${file.name}: binary, ${bytes.length} bytes`;
  }
  await decode();
}

async function loadTextFile(file, target) {
  $(target).value = await file.text();
  verificationInputChanged();
}

function quotePayload() {
  const text = $("quote-text").value;
  if (text.trim() !== "") return { quote: text };
  if (quoteInput?.kind === "bytes") return { quote: bytesToBase64(quoteInput.bytes) };
  return { quote: "" };
}

// ---------------------------------------------------------------- api

async function post(path, body, contentType = "application/json") {
  if (apiMode === "local") {
    try {
      localModule ??= await import("./lib/server/explorer/local.js");
      return await localModule.localApi(path, body);
    } catch (e) {
      return {
        ok: false,
        error: {
          code: "EXPLORER_LOCAL_UNAVAILABLE",
          message: `the in-page verifier could not load: ${e.message}`,
          hint: "serve the static build over http(s) (browsers refuse ES modules from file://) with all of explorer/lib",
        },
      };
    }
  }
  let res;
  try {
    res = await fetch(apiBase + path, {
      method: "POST",
      headers: { "content-type": contentType, accept: "application/json" },
      body,
    });
  } catch (e) {
    return {
      ok: false,
      error: {
        code: "EXPLORER_SERVER_UNREACHABLE",
        message: `could not reach the tdx-attest server: ${e.message}`,
        hint: "start it with `tdx-attest serve` or `tdx-attest explorer serve` and open the page it serves",
      },
    };
  }
  try {
    return await res.json();
  } catch {
    return {
      ok: false,
      error: {
        code: "EXPLORER_BAD_RESPONSE",
        message: `the server answered HTTP ${res.status} without JSON`,
        hint: "check that this page is served by a tdx-attest server",
      },
    };
  }
}

function setBusy(busy) {
  $("decode").disabled = busy;
  $("verify").disabled = busy;
  document.body.setAttribute("aria-busy", busy ? "true" : "false");
}

async function decode() {
  clearError();
  const seq = ++requestSeq;
  setBusy(true);
  try {
    const payload = quotePayload();
    const res = await post("api/decode", JSON.stringify(payload));
    if (seq !== requestSeq) return false; // a later decode or verify owns the page now
    if (!res.ok) {
      showDecodeFailure(res);
      return false;
    }
    renderDecoded(res);
    bringStructureIntoView();
    return true;
  } finally {
    if (seq === requestSeq) setBusy(false);
  }
}

/**
 * Decoding must change something the user sees: when the structure starts (almost) below the fold, as in
 * a short window or the one-column layout, scroll it up to the top of the window.
 */
function bringStructureIntoView() {
  const top = $("explorer").getBoundingClientRect().top;
  if (top > window.innerHeight - 200) $("explorer").scrollIntoView({ block: "start" });
}

/** A quote that failed to parse: show the error, and the bytes (with the offending one marked) when we have them. */
function showDecodeFailure(res) {
  if (typeof res.hex === "string") {
    renderDecoded({ hex: res.hex, tree: [], layout: [], regions: [], summary: { unparsed: true } });
    $("tree").replaceChildren(
      el("p", { class: "muted", text: "The quote could not be decoded; its bytes are on the right." }),
    );
  } else {
    $("explorer").hidden = true;
    current = null;
    retireVerdict();
  }
  showError(res.error);
}

async function verify() {
  clearError();
  const seq = ++requestSeq;
  const generation = inputGeneration;
  const body = { ...quotePayload() };
  // Collateral and policy go as the text given: the signed JSON inside collateral must not be re-serialised.
  const collateral = $("collateral-text").value;
  if (collateral.trim() !== "") body.collateral = collateral;
  const policy = $("policy-text").value;
  if (policy.trim() !== "") body.policy = policy;
  const at = $("at").value.trim();
  if (at !== "") body.at = at;
  setBusy(true);
  verdictFor = null;
  setVerdict("verifying", el("p", { class: "muted", text: "Verifying…" }));
  try {
    const res = await post("api/verify", JSON.stringify(body));
    if (seq !== requestSeq || generation !== inputGeneration) {
      // The quote changed (or was decoded again) while this one was being judged: its verdict is not for
      // what is on screen now.
      if (verdictState === "verifying") {
        setVerdict(
          "retired",
          el("p", {
            id: "verdict-retired",
            class: "notice",
            text: "The quote changed while the previous one was being verified. Verify judges the one shown now.",
          }),
        );
      }
      return;
    }
    if (res.decode) renderDecoded(res.decode);
    if (!res.verification) {
      setVerdict("error", el("p", { class: "muted", text: "Not verified: see the error." }));
      if (res.decode) showError(res.error);
      else showDecodeFailure(res);
      return;
    }
    renderVerdict(res);
  } finally {
    if (seq === requestSeq) setBusy(false);
  }
}

// ---------------------------------------------------------------- verdict lifecycle

function setVerdict(state, ...nodes) {
  verdictState = state;
  $("verdict").dataset.state = state;
  if (state !== "verdict") $("verdict").removeAttribute("data-quote-sha256");
  $("verdict-body").replaceChildren(...nodes);
}

/**
 * The quote shown is no longer the one the verdict judged: take the verdict down, and say whose it was so
 * nobody reads it as this quote's. Without a verdict on screen, a leftover "Verifying…" or "see the error"
 * goes back to the introduction.
 */
function retireVerdict() {
  const old = verdictFor;
  verdictFor = null;
  if (old) {
    setVerdict(
      "retired",
      el(
        "p",
        { id: "verdict-retired", class: "notice" },
        "Not verified: the quote shown has not been judged. The verdict shown before was for other bytes, ",
        bytesName(old.sha256, old.size),
        ". Verify judges the quote shown now.",
      ),
    );
  } else if (verdictState !== "intro" && verdictState !== "retired") {
    setVerdict("intro", ...verdictIntro.map((n) => n.cloneNode(true)));
  }
}

/** The quote text or file changed: nothing judged so far is about it. */
function quoteInputChanged() {
  inputGeneration++;
  retireVerdict();
}

/** The collateral, policy or time changed: a verdict on screen was judged with the previous ones. */
function verificationInputChanged() {
  if (verdictState !== "verdict" || $("verdict-inputs-changed")) return;
  $("verdict-body").prepend(
    el("p", {
      id: "verdict-inputs-changed",
      class: "notice",
      text: "The collateral, policy or time changed after this verdict, which was judged with the previous ones. Verify again to judge with them.",
    }),
  );
}

// ---------------------------------------------------------------- errors

function clearError() {
  $("error").hidden = true;
}

function showError(error) {
  const e = error ?? { code: "EXPLORER_UNKNOWN", message: "unknown error" };
  $("error-code").textContent = e.code ?? "ERROR";
  $("error-message").textContent = e.message ?? "";
  const where = [];
  if (e.field) where.push(`field ${e.field}`);
  if (typeof e.offset === "number") where.push(`byte offset ${fmtOffset(e.offset)}`);
  $("error-where").textContent = where.length ? `At ${where.join(", ")}` : "";
  $("error-where").hidden = where.length === 0;
  $("error-hint").textContent = e.hint ?? "no hint available";
  $("error").hidden = false;
  if (typeof e.offset === "number" && current && e.offset < current.byteSpans.length) {
    highlight({ offset: e.offset, size: 1 }, true);
    current.byteSpans[e.offset].classList.add("err");
  }
}

// ---------------------------------------------------------------- decoded quote

function renderDecoded(res) {
  const bytes = hexToBytes(res.hex);
  const layout = res.layout ?? [];
  const regions = res.regions ?? [];
  const sha256 = sha256Hex(bytes);
  current = { bytes, sha256, layout, regions, treeItems: [], byteSpans: [], asciiSpans: [] };
  if (verdictFor && verdictFor.sha256 !== sha256) retireVerdict();
  highlighted = [];
  selectedItem = null;
  $("explorer").hidden = false;
  const s = res.summary ?? {};
  const parts = [`${bytes.length} bytes`];
  if (s.version !== undefined) parts.unshift(`quote v${s.version}`);
  if (s.teeType) parts.splice(1, 0, s.teeType);
  if (s.bodyType) parts.splice(2, 0, `body ${s.bodyType}`);
  if (s.trailingBytes) parts.push(`${s.trailingBytes} trailing`);
  if (s.unparsed) parts.push("not a valid quote");
  $("quote-summary").replaceChildren(`${parts.join(" · ")} · `, bytesName(sha256, bytes.length));
  renderLegend(regions);
  renderHex(bytes, regions);
  renderTree(res.tree);
}

function renderLegend(regions) {
  const seen = new Set(regions.map((r) => r.id));
  const items = REGION_ORDER.filter((id) => seen.has(id)).map((id) => {
    const r = regions.find((x) => x.id === id);
    return el(
      "li",
      { title: `${r.label}: bytes ${r.offset}–${r.offset + r.size - 1}` },
      el("span", { class: `swatch rg-${id}` }),
      `${r.label} (${r.size})`,
    );
  });
  $("legend").replaceChildren(...items);
}

function regionOfBytes(n, regions) {
  const out = new Array(n).fill("");
  for (const r of regions) {
    const end = Math.min(n, r.offset + r.size);
    for (let i = r.offset; i < end; i++) out[i] = r.id;
  }
  return out;
}

function renderHex(bytes, regions) {
  const n = Math.min(bytes.length, MAX_HEX_RENDER);
  const region = regionOfBytes(n, regions);
  const frag = document.createDocumentFragment();
  const byteSpans = new Array(n);
  const asciiSpans = new Array(n);
  for (let row = 0; row < n; row += 16) {
    const hb = el("span", { class: "hb" });
    const ha = el("span", { class: "ha" });
    for (let i = row; i < Math.min(n, row + 16); i++) {
      const cls = region[i] ? `rg-${region[i]}` : "";
      const b = el("span", { class: cls, "data-i": i, text: hex2(bytes[i]) });
      const c = bytes[i];
      const a = el("span", {
        class: cls,
        "data-i": i,
        text: c >= 32 && c < 127 ? String.fromCharCode(c) : "·",
      });
      byteSpans[i] = b;
      asciiSpans[i] = a;
      hb.append(b);
      ha.append(a);
    }
    frag.append(
      el(
        "div",
        { class: "hr" },
        el("span", { class: "ho", text: row.toString(16).padStart(6, "0") }),
        hb,
        ha,
      ),
    );
  }
  if (bytes.length > n) {
    frag.append(el("div", { class: "muted", text: `… ${bytes.length - n} more bytes not shown` }));
  }
  current.byteSpans = byteSpans;
  current.asciiSpans = asciiSpans;
  $("hex").replaceChildren(frag);
}

function highlight(range, scroll) {
  for (const s of highlighted) s.classList.remove("hl");
  highlighted = [];
  if (!range || !current) return;
  const end = Math.min(current.byteSpans.length, range.offset + range.size);
  for (let i = range.offset; i < end; i++) {
    const b = current.byteSpans[i];
    const a = current.asciiSpans[i];
    b.classList.add("hl");
    a.classList.add("hl");
    highlighted.push(b, a);
  }
  $("hex").setAttribute("data-highlight", `${range.offset}+${range.size}`);
  if (scroll && range.offset < current.byteSpans.length) scrollHexTo(range.offset);
}

function scrollHexTo(offset) {
  const pane = $("hex-pane");
  const span = current.byteSpans[offset];
  const row = span.parentElement.parentElement;
  const top = row.offsetTop;
  if (top < pane.scrollTop || top + row.offsetHeight > pane.scrollTop + pane.clientHeight) {
    pane.scrollTop = Math.max(0, top - pane.clientHeight / 3);
  }
}

function showFieldInfo(path, range, value) {
  const info = $("field-info");
  const parts = [el("span", { class: "path", text: path || "(quote)" })];
  if (range) {
    parts.push(`  offset ${fmtOffset(range.offset)}, ${range.size} byte${range.size === 1 ? "" : "s"}`);
  }
  if (value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
    parts.push(el("br"), formatValue(value, Number.POSITIVE_INFINITY));
  }
  info.replaceChildren(...parts);
}

// ---------------------------------------------------------------- tree

function formatValue(v, max = 64) {
  let s;
  if (Array.isArray(v)) s = v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  else if (v === null) s = "null";
  else if (typeof v === "object") s = JSON.stringify(v);
  else s = String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function renderTree(nodes) {
  const root = $("tree");
  const items = [];
  const build = (node, depth, parentUl) => {
    const li = el("li", {
      role: "treeitem",
      class: "ti",
      tabindex: "-1",
      "aria-level": depth + 1,
      "data-path": node.path,
    });
    const label = el("div", { class: "label" });
    const group = Array.isArray(node.children);
    label.append(el("span", { class: "twisty", "aria-hidden": "true", text: group ? "▸" : "" }));
    label.append(el("span", { class: "key", text: node.key }));
    if (group) {
      label.append(el("span", { class: "val", text: `{${node.children.length}}` }));
    } else {
      const v = node.value;
      const cls = typeof v === "number" ? "val num" : typeof v === "string" ? "val str" : "val";
      label.append(el("span", { class: cls, text: formatValue(v) }));
    }
    if (node.range) {
      label.append(el("span", { class: "range", text: `@${node.range.offset}+${node.range.size}` }));
    } else {
      label.append(el("span", { class: "range", text: "derived" }));
      label.title = "derived by the decoder; these bytes are not stored in the quote";
    }
    li.append(label);
    parentUl.append(li);
    items.push(li);
    li._range = node.range;
    li._value = node.value;
    if (group) {
      li.setAttribute("aria-expanded", depth < 1 ? "true" : "false");
      const ul = el("ul", { role: "group" });
      li.append(ul);
      for (const c of node.children) build(c, depth + 1, ul);
    }
  };
  const ul = el("ul", { role: "none", class: "tree-root" });
  for (const n of nodes ?? []) build(n, 0, ul);
  root.replaceChildren(ul);
  current.treeItems = items;
  if (items[0]) items[0].tabIndex = 0;
}

function visibleItems() {
  return current.treeItems.filter((li) => {
    let p = li.parentElement?.closest('[role="treeitem"]');
    while (p) {
      if (p.getAttribute("aria-expanded") === "false") return false;
      p = p.parentElement?.closest('[role="treeitem"]');
    }
    return true;
  });
}

function focusItem(li) {
  if (!li) return;
  for (const x of current.treeItems) if (x.tabIndex === 0) x.tabIndex = -1;
  li.tabIndex = 0;
  li.focus();
}

function expandTo(li) {
  let p = li.parentElement?.closest('[role="treeitem"]');
  while (p) {
    p.setAttribute("aria-expanded", "true");
    p = p.parentElement?.closest('[role="treeitem"]');
  }
}

function selectItem(li) {
  if (selectedItem) {
    selectedItem.classList.remove("selected");
    selectedItem.removeAttribute("aria-selected");
  }
  selectedItem = li;
  li.classList.add("selected");
  li.setAttribute("aria-selected", "true");
  highlight(li._range, true);
  showFieldInfo(li.dataset.path, li._range, li._value);
}

function itemFromEvent(e) {
  return e.target.closest?.('[role="treeitem"]') ?? null;
}

function restoreSelection() {
  if (selectedItem) {
    highlight(selectedItem._range, false);
    showFieldInfo(selectedItem.dataset.path, selectedItem._range, selectedItem._value);
  } else {
    highlight(null);
  }
}

function setupTree() {
  const tree = $("tree");
  tree.addEventListener("mouseover", (e) => {
    const li = itemFromEvent(e);
    if (!li) return;
    for (const x of tree.querySelectorAll(".ti.hover")) x.classList.remove("hover");
    li.classList.add("hover");
    highlight(li._range, true);
    showFieldInfo(li.dataset.path, li._range, li._value);
    e.stopPropagation();
  });
  tree.addEventListener("mouseleave", () => {
    for (const x of tree.querySelectorAll(".ti.hover")) x.classList.remove("hover");
    restoreSelection();
  });
  tree.addEventListener("click", (e) => {
    const li = itemFromEvent(e);
    if (!li) return;
    if (e.target.closest(".twisty") && li.hasAttribute("aria-expanded")) toggle(li);
    focusItem(li);
    selectItem(li);
  });
  tree.addEventListener("dblclick", (e) => {
    const li = itemFromEvent(e);
    if (li?.hasAttribute("aria-expanded")) toggle(li);
  });
  tree.addEventListener("focusin", (e) => {
    const li = itemFromEvent(e);
    if (!li) return;
    highlight(li._range, true);
    showFieldInfo(li.dataset.path, li._range, li._value);
  });
  tree.addEventListener("keydown", (e) => {
    const li = itemFromEvent(e);
    if (!li || !current) return;
    const vis = visibleItems();
    const i = vis.indexOf(li);
    const expandable = li.hasAttribute("aria-expanded");
    const open = li.getAttribute("aria-expanded") === "true";
    switch (e.key) {
      case "ArrowDown":
        focusItem(vis[i + 1]);
        break;
      case "ArrowUp":
        focusItem(vis[i - 1]);
        break;
      case "Home":
        focusItem(vis[0]);
        break;
      case "End":
        focusItem(vis[vis.length - 1]);
        break;
      case "ArrowRight":
        if (expandable && !open) li.setAttribute("aria-expanded", "true");
        else if (expandable) focusItem(li.querySelector('[role="treeitem"]'));
        break;
      case "ArrowLeft":
        if (expandable && open) li.setAttribute("aria-expanded", "false");
        else focusItem(li.parentElement?.closest('[role="treeitem"]'));
        break;
      case "Enter":
      case " ":
        if (expandable && e.key === "Enter" && selectedItem === li) toggle(li);
        selectItem(li);
        break;
      case "*":
        for (const x of li.parentElement.children)
          if (x.hasAttribute("aria-expanded")) x.setAttribute("aria-expanded", "true");
        break;
      default:
        return;
    }
    e.preventDefault();
  });
}

function toggle(li) {
  li.setAttribute("aria-expanded", li.getAttribute("aria-expanded") === "true" ? "false" : "true");
}

/** The smallest tree item whose bytes include byte i. */
function itemAtByte(i) {
  let li = null;
  for (const x of current.treeItems) {
    const r = x._range;
    if (r && i >= r.offset && i < r.offset + r.size && (!li || r.size <= li._range.size)) li = x;
  }
  return li;
}

let peeked = [];
function peek(range) {
  for (const s of peeked) s.classList.remove("peek");
  peeked = [];
  if (!range || !current) return;
  const end = Math.min(current.byteSpans.length, range.offset + range.size);
  for (let i = range.offset; i < end; i++) {
    current.byteSpans[i].classList.add("peek");
    current.asciiSpans[i].classList.add("peek");
    peeked.push(current.byteSpans[i], current.asciiSpans[i]);
  }
}

function setupHex() {
  const hex = $("hex");
  // Hovering a byte outlines the field it belongs to and names it; clicking selects that field in the tree.
  hex.addEventListener("mouseover", (e) => {
    const i = Number(e.target.dataset?.i);
    if (!current || !Number.isInteger(i)) return;
    const li = itemAtByte(i);
    const region = current.regions.findLast((x) => i >= x.offset && i < x.offset + x.size);
    const where = `byte ${fmtOffset(i)}${region ? ` · ${region.label}` : ""}`;
    if (!li) {
      peek(null);
      $("field-info").textContent = where;
      return;
    }
    peek(li._range);
    $("field-info").replaceChildren(
      el("span", { class: "path", text: li.dataset.path }),
      `  offset ${fmtOffset(li._range.offset)}, ${li._range.size} bytes · ${where}`,
    );
  });
  hex.addEventListener("mouseleave", () => {
    peek(null);
    restoreSelection();
  });
  hex.addEventListener("click", (e) => {
    const i = Number(e.target.dataset?.i);
    if (!current || !Number.isInteger(i)) return;
    const li = itemAtByte(i);
    if (!li) return;
    expandTo(li);
    focusItem(li);
    selectItem(li);
    li.scrollIntoView({ block: "nearest" });
  });
}

// ---------------------------------------------------------------- verdict

const GOOD = new Set(["UpToDate"]);
const WARN = new Set(["SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"]);

function statusClass(status) {
  if (GOOD.has(status)) return "ok";
  if (WARN.has(status)) return "warn";
  return status ? "bad" : "neutral";
}

function fmtTime(v) {
  if (v === null || v === undefined || v === "") return "—";
  const d = typeof v === "number" ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace(".000Z", "Z");
}

function chips(list) {
  if (!Array.isArray(list) || list.length === 0) return el("span", { class: "muted", text: "none" });
  const span = el("span");
  for (const x of list) span.append(el("span", { class: "chip", text: String(x) }));
  return span;
}

function facts(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of rows) {
    if (v === undefined) continue;
    dl.append(el("dt", { text: k }), el("dd", {}, typeof v === "string" ? v : v));
  }
  return dl;
}

function valueText(v) {
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v)) return v.map(valueText).join(", ");
  if (typeof v === "object") {
    return Object.entries(v)
      .map(([k, x]) => `${k}: ${typeof x === "object" && x !== null ? JSON.stringify(x) : x}`)
      .join(" · ");
  }
  return String(v);
}

/** One row per check: the verifier's {name, passed, expected, actual, detail, nonFatal} or the policy's
 * {rule, passed, expected, actual, message}. */
function renderChecks(checks, id) {
  const ol = el("ol", { class: "checks", id });
  for (const c of checks) {
    const state = c.passed ? "pass" : c.nonFatal ? "warn" : "fail";
    const li = el("li", { class: state });
    li.append(
      el(
        "div",
        { class: "check-head" },
        el("span", {
          class: "mark",
          "aria-label": c.passed ? "passed" : c.nonFatal ? "flagged" : "failed",
          text: c.passed ? "✓" : c.nonFatal ? "!" : "✗",
        }),
        el("span", { class: "check-name", text: c.name ?? c.rule }),
        el("span", { class: "muted small", text: c.passed ? "pass" : c.nonFatal ? "flagged" : "FAIL" }),
      ),
    );
    const dl = el("dl", { class: "check-values" });
    if ("expected" in c) dl.append(el("dt", { text: "expected" }), el("dd", { text: valueText(c.expected) }));
    if ("actual" in c) dl.append(el("dt", { text: "actual" }), el("dd", { text: valueText(c.actual) }));
    const note = c.detail ?? c.message;
    if (note) dl.append(el("dt", { text: "note" }), el("dd", { class: "note", text: note }));
    if (dl.childElementCount) li.append(dl);
    ol.append(li);
  }
  return ol;
}

function renderPolicy(p) {
  const box = el("div", { class: "policy" });
  box.append(
    el(
      "div",
      { class: "verdict-status" },
      el("span", {
        id: "policy-decision",
        class: `badge ${p.allowed ? "ok" : "bad"}`,
        text: p.allowed ? "Policy: allowed" : "Policy: denied",
      }),
      p.allowed
        ? null
        : el("span", {
            class: "muted",
            text: `${p.denials.length} rule${p.denials.length === 1 ? "" : "s"} denied`,
          }),
    ),
  );
  if (Array.isArray(p.evaluated) && p.evaluated.length) box.append(renderChecks(p.evaluated, "policy-rules"));
  return box;
}

function renderVerdict(res) {
  const v = res.verification;
  const parts = [];
  const status = v.tcbStatus ?? null;
  const err = v.error;
  const head = el("div", { class: "verdict-status verdict-head" });
  if (status)
    head.append(el("span", { class: `badge big ${statusClass(status)}`, id: "tcb-status", text: status }));
  if (err) head.append(el("span", { class: "badge big bad", id: "verify-error-code", text: err.code }));
  head.append(
    el("span", {
      class: `badge ${v.ok ? "ok" : "bad"}`,
      text: v.ok ? "quote verified" : "verification failed",
    }),
  );
  if (v.collateralExpired)
    head.append(el("span", { class: "badge warn", id: "collateral-expired", text: "collateral expired" }));
  parts.push(head);
  // The bytes judged: those the server decoded for this answer, now in the structure below.
  const judged = current ? { sha256: current.sha256, size: current.bytes.length } : null;
  if (judged)
    parts.push(el("p", { class: "judged" }, "Judged: quote ", bytesName(judged.sha256, judged.size)));
  if (err) {
    parts.push(
      el(
        "div",
        { class: "hint" },
        el("div", { text: err.message }),
        err.hint ? el("div", {}, el("strong", { text: "Hint: " }), err.hint) : null,
      ),
    );
  }
  const level = v.matchedTcbLevel;
  const expiry = v.earliestExpiry;
  const module = v.tdxModuleIdentity;
  parts.push(
    facts([
      ["Judged at", fmtTime(v.at ?? res.at)],
      ["TCB status", status ?? "none"],
      ["Matched TCB level", level ? `${fmtTime(level.tcbDate)} · ${level.tcbStatus}` : "none"],
      ["Advisory IDs", chips(v.advisoryIds)],
      [
        "QE identity",
        v.qeIdentityStatus
          ? `${v.qeIdentityStatus}${v.qeIdentityLevel ? ` (ISVSVN ${v.qeIdentityLevel.isvSvn})` : ""}`
          : undefined,
      ],
      [
        "TDX module",
        v.tdxModuleStatus ? `${v.tdxModuleStatus}${module ? ` · ${module.id}` : ""}` : undefined,
      ],
      ["Collateral expired", v.collateralExpired ? `yes: ${(v.expiredItems ?? []).join(", ")}` : "no"],
      ["First expiry", expiry ? `${fmtTime(expiry.iso)} (${expiry.item})` : undefined],
      [
        "Platform",
        v.platform
          ? `${v.platform.teeType} · FMSPC ${v.platform.fmspc} · ${v.platform.caType} CA`
          : undefined,
      ],
      [
        "Collateral from",
        res.collateralSource === "request" ? "this page" : res.collateralSource ? "the server" : undefined,
      ],
    ]),
  );
  if (res.policy) parts.push(el("h3", { text: "Policy" }), renderPolicy(res.policy));
  if (Array.isArray(v.checks) && v.checks.length) {
    const passed = v.checks.filter((c) => c.passed).length;
    // All passed: folded, so the structure stays in view. A failure opens it and stands out.
    const failed = v.checks.filter((c) => !c.passed && !c.nonFatal).length;
    const flagged = v.checks.filter((c) => !c.passed && c.nonFatal).length;
    parts.push(
      el(
        "details",
        { class: "checks-box", open: failed > 0 },
        el("summary", {
          text:
            `Checks: ${passed} of ${v.checks.length} passed` +
            (failed ? `, ${failed} failed` : "") +
            (flagged ? `, ${flagged} flagged` : ""),
        }),
        renderChecks(v.checks, "checks"),
      ),
    );
  }
  setVerdict("verdict", ...parts);
  verdictFor = judged;
  if (judged) $("verdict").dataset.quoteSha256 = judged.sha256;
}

// ---------------------------------------------------------------- wiring

function setupDrop() {
  const drop = $("drop");
  let depth = 0;
  document.addEventListener("dragenter", (e) => {
    if (!e.dataTransfer?.types?.includes("Files")) return;
    depth++;
    drop.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) drop.classList.remove("dragging");
  });
  document.addEventListener("dragover", (e) => {
    if (e.dataTransfer?.types?.includes("Files")) e.preventDefault();
  });
  document.addEventListener("drop", (e) => {
    const file = e.dataTransfer?.files?.[0];
    depth = 0;
    drop.classList.remove("dragging");
    if (!file) return;
    e.preventDefault();
    const target = e.target.closest?.(".field textarea");
    if (target) loadTextFile(file, target.id);
    else loadQuoteFile(file);
  });
}

function init() {
  verdictIntro = [...$("verdict-body").childNodes].map((n) => n.cloneNode(true));
  $("verdict").dataset.state = verdictState;
  setupTree();
  setupHex();
  setupDrop();
  $("decode").addEventListener("click", () => decode());
  $("verify").addEventListener("click", () => verify());
  $("quote-file").addEventListener("change", (e) => {
    const f = e.target.files?.[0];
    if (f) loadQuoteFile(f);
  });
  $("collateral-file").addEventListener("change", (e) => {
    const f = e.target.files?.[0];
    if (f) loadTextFile(f, "collateral-text");
  });
  $("policy-file").addEventListener("change", (e) => {
    const f = e.target.files?.[0];
    if (f) loadTextFile(f, "policy-text");
  });
  $("quote-text").addEventListener("input", () => {
    quoteInput = null;
    $("quote-source").textContent = "";
    quoteInputChanged();
  });
  for (const id of ["collateral-text", "policy-text", "at"]) {
    $(id).addEventListener("input", () => verificationInputChanged());
  }
  $("quote-text").addEventListener("paste", () => setTimeout(() => decode(), 0));
  $("quote-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      decode();
    }
  });
  document.documentElement.dataset.ready = "true";
}

init();
