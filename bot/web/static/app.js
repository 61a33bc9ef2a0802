"use strict";
// Every piece of text from the server is set with textContent: user input (reasons,
// names, justifications) never becomes markup.
const TOKEN = document.querySelector('meta[name="mfadesk-token"]').content;
// LINKS are the addresses mfadesk itself writes (bot.LinkURLs): only these become
// links, so an address a user typed into a reason stays text.
const LINKS = document.querySelector('meta[name="mfadesk-links"]').content.split(" ").filter(Boolean);
// REQUEST_ID is how a request id looks (approvals: "R-" and 26 base32 characters);
// ids in text get a one-click copy button.
const REQUEST_ID = /R-[A-Z2-7]{26}(?![A-Za-z0-9])/g;
const $ = (id) => document.getElementById(id);
const COLORS = ["#4f46e5", "#0e7490", "#b45309", "#be185d", "#15803d", "#7c3aed"];
let personas = [];
let me = "";
let version = 0;
let polling = null;
const denyState = new Map(); // request id → { open, value, error } of its deny box
const shown = { conversation: new Map(), inbox: new Map(), approvals: new Map(), audit: new Map() };

function el(tag, cls, text, testid) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  if (testid) e.dataset.testid = testid;
  return e;
}

async function api(path, body) {
  const r = await fetch(path, {
    method: body ? "POST" : "GET",
    headers: { "Content-Type": "application/json", "X-Mfadesk-Token": TOKEN },
    body: body ? JSON.stringify(body) : undefined,
  });
  let j = {};
  try { j = await r.json(); } catch (e) { /* not JSON: use the status */ }
  if (!r.ok) throw new Error(j.error || r.statusText);
  $("conn").textContent = "";
  return j;
}

function persona(id) { return personas.find((p) => p.id === id); }
function initials(name) { return name.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase(); }
function avatar(name, i) {
  const a = el("span", "avatar", initials(name));
  a.style.background = COLORS[i % COLORS.length];
  a.setAttribute("aria-hidden", "true");
  return a;
}
function botAvatar() { const a = el("span", "avatar", "✓"); a.style.background = "#1d2433"; a.setAttribute("aria-hidden", "true"); return a; }
function hhmm(t) { const d = new Date(t); return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }

// rich appends s to parent as text, with mfadesk's own links as <a> and request ids
// selectable in one click with a copy button. Text is only ever set as textContent.
function rich(parent, s) {
  s = s || "";
  let plain = 0;
  const flush = (end) => { if (end > plain) breakable(parent, s.slice(plain, end)); };
  for (let i = 0; i < s.length;) {
    const url = linkAt(s, i);
    if (url) {
      flush(i);
      const a = el("a", null, url, "link");
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      parent.appendChild(a);
      i += url.length;
      plain = i;
      continue;
    }
    REQUEST_ID.lastIndex = i;
    const m = s[i] === "R" && (i === 0 || !/[A-Za-z0-9]/.test(s[i - 1])) ? REQUEST_ID.exec(s) : null;
    if (m && m.index === i) {
      flush(i);
      parent.appendChild(requestId(m[0]));
      i += m[0].length;
      plain = i;
      continue;
    }
    i++;
  }
  flush(s.length);
  return parent;
}

// breakable appends text in which a long address (a UPN in parentheses, a URL) may
// wrap after its @ or a slash, where a reader expects a break, instead of inside a
// name; <wbr> adds no character, so what is copied stays the same. Shorter words
// wrap only at spaces.
function breakable(parent, text) {
  for (const word of text.split(/(\s+)/)) {
    if (word.length <= 24) { if (word) parent.appendChild(document.createTextNode(word)); continue; }
    word.split(/(?<=[@\/])(?=[A-Za-z0-9])/).forEach((part, i) => {
      if (i > 0) parent.appendChild(document.createElement("wbr"));
      parent.appendChild(document.createTextNode(part));
    });
  }
}

// linkAt mirrors bot.Spans: a LINKS address counts only as a whole word; a full stop
// or a parenthesis after it is not part of it.
function linkAt(s, i) {
  if (s[i] !== "h" || (i > 0 && /[A-Za-z0-9\/_\-?#=&%~+@:]/.test(s[i - 1]))) return "";
  for (const u of LINKS) {
    if (!s.startsWith(u, i)) continue;
    const rest = s.slice(i + u.length);
    if (rest === "" || (!/^[A-Za-z0-9\/_\-?#=&%~+@:.]/.test(rest)) || (rest[0] === "." && !/^\.[A-Za-z0-9\/_\-?#=&%~+@:]/.test(rest))) return u;
  }
  return "";
}

// requestId shows an id that one click selects whole, and a button that copies it.
function requestId(id) {
  const wrap = el("span", "ridwrap");
  const code = el("code", "rid", id, "request-id");
  const btn = el("button", "copy", "copy", "copy-id");
  btn.type = "button";
  btn.setAttribute("aria-label", "Copy request id " + id);
  btn.addEventListener("click", async () => {
    // Select it first: where the clipboard is refused, Ctrl+C still copies it.
    window.getSelection().selectAllChildren(code);
    try { await navigator.clipboard.writeText(id); btn.textContent = "copied"; }
    catch (e) { btn.textContent = "selected: press Ctrl+C"; }
    setTimeout(() => { btn.textContent = "copy"; }, 2000);
  });
  wrap.append(code, btn);
  return wrap;
}

function richEl(tag, cls, text, testid) { return rich(el(tag, cls, null, testid), text); }

// renderTable draws a table; wide ones (more than three columns) also carry their
// column names on each cell, so that a narrow pane shows each row as label–value
// lines instead of squeezing the columns until words break (CSS @container).
function renderTable(tbl) {
  const cols = tbl.Columns || [];
  const wrap = el("div", "tablewrap");
  const t = el("table", "grid-t" + (cols.length > 3 ? " wide" : ""));
  const head = el("thead");
  const hr = el("tr");
  for (const c of cols) hr.appendChild(el("th", null, c));
  head.appendChild(hr);
  t.appendChild(head);
  const body = el("tbody");
  for (const row of tbl.Rows || []) {
    const tr = el("tr");
    row.forEach((c, i) => {
      // The value sits in its own span: as label–value lines the cell is a grid of
      // two items, its label and its value.
      const td = el("td");
      td.appendChild(richEl("span", "v", c === "" ? "—" : c));
      td.dataset.label = cols[i] || "";
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  t.appendChild(body);
  wrap.appendChild(t);
  return wrap;
}

// renderBody renders a bot message's title, text and sections into box.
function renderBody(box, m, opts) {
  opts = opts || {};
  if (m.Title && !opts.noTitle) box.appendChild(el("div", "title", m.Title));
  if (m.Text && (opts.alwaysText || !m.Sections || m.Sections.length === 0 || m.Refusal)) box.appendChild(richEl("div", "text", m.Text, "message-text"));
  for (const s of m.Sections || []) {
    const sec = el("div", "section");
    if (s.Heading) sec.appendChild(el("div", "sec-h", s.Heading));
    if (s.Text) sec.appendChild(richEl("div", "text", s.Text));
    if (s.Facts && s.Facts.length) {
      const dl = el("dl", "facts");
      for (const f of s.Facts) { dl.appendChild(el("dt", null, f.Label)); dl.appendChild(richEl("dd", null, f.Value)); }
      sec.appendChild(dl);
    }
    if (s.Table) sec.appendChild(renderTable(s.Table));
    for (const f of s.Findings || []) {
      const d = el("div", "finding", null, "finding");
      d.appendChild(el("span", "sev " + f.Severity, f.Severity));
      d.appendChild(el("strong", null, f.Title, "finding-title"));
      if (f.Detail) d.appendChild(richEl("div", "text", f.Detail));
      // Evidence items come one per line; .evidence keeps the line breaks.
      if (f.Evidence) d.appendChild(richEl("div", "evidence", "Evidence:\n" + f.Evidence, "evidence"));
      sec.appendChild(d);
    }
    if (s.Note) sec.appendChild(richEl("div", "note", s.Note));
    box.appendChild(sec);
  }
}

// ---- conversation ----
function renderEntry(e) {
  const p = persona(me);
  const you = e.from === "you";
  const line = el("div", "line " + (you ? "you" : "bot"));
  line.appendChild(you ? avatar(p.name, personas.indexOf(p)) : botAvatar());
  const bubble = el("div", "bubble msg" + (!you && e.message && e.message.Refusal ? " refusal" : ""), null, you ? "you-message" : "bot-message");
  const who = el("div", "who");
  who.appendChild(el("b", null, you ? p.name : "mfadesk"));
  who.appendChild(document.createTextNode(" " + hhmm(e.time) + (!you && e.message && e.message.Private ? " · only you can see this" : "")));
  bubble.appendChild(who);
  if (you) bubble.appendChild(el("div", null, e.text));
  else {
    renderBody(bubble, e.message);
    const cmds = (e.message.Buttons || []).filter((b) => b.Kind === "file" || b.Kind === "cancel");
    if (cmds.length) {
      // File and Cancel stand for a command: the server runs it as if typed.
      const row = el("div", "actions");
      for (const b of cmds) {
        const btn = el("button", "btn " + (b.Kind === "cancel" ? "deny" : "primary"), b.Label, "click-" + b.Kind);
        btn.type = "button";
        btn.addEventListener("click", () => click(b, btn));
        row.appendChild(btn);
      }
      bubble.appendChild(row);
    }
    if (e.message.Form) bubble.appendChild(e.filed ? richEl("span", "filed", "✓ Filed as request " + e.filed, "form-filed") : renderForm(e));
  }
  line.appendChild(bubble);
  return line;
}

const FIELDS = [
  ["reason", "Reason (what happened, why this action)", "textarea"],
  ["verification", "How was the person's identity verified?", "select"],
  ["verification_detail", "Verification detail (what was seen, who attested)", "input"],
  ["ticket", "Ticket", "input"],
];

function renderForm(e) {
  const f = e.message.Form;
  // A manager's attestation asks one thing: how they verified it is them.
  const attest = (f.Action || "").startsWith("attest:");
  const base = attest ? [["reason", "How did you verify it is them?", "textarea"]] : FIELDS;
  const form = el("form", "reqform", null, "request-form");
  form.noValidate = true;
  if (f.Warning) form.appendChild(el("div", "warning", f.Warning, "form-warning"));
  const inputs = {}, errs = {};
  // A bulk form opened with reregister --list asks for the users first (Form.Users).
  const fields = f.Users ? [["users", "Users (one per line: UPN, mail or object id)", "textarea"], ...base] : base;
  const limits = Object.assign({}, f.Limits || {}, f.Users ? { users: f.Users } : {});
  for (const [name, label, kind] of fields) {
    const id = "f" + e.seq + "-" + name;
    const lab = el("label", null, label);
    lab.htmlFor = id;
    const input = el(kind, null, null, "form-" + name.replace("_", "-"));
    input.id = id;
    input.name = name;
    if (kind === "select") {
      input.appendChild(el("option", null, "Choose…")).value = "";
      for (const c of f.Verifications || []) input.appendChild(el("option", null, c.Label)).value = c.Value;
    }
    if (name === "ticket") input.placeholder = "e.g. INC-1042";
    // The router's limits come with the form (Form.Limits): shown, and enforced as typed.
    const lim = limits[name];
    if (lim) {
      input.maxLength = lim.Max;
      lab.appendChild(el("span", "hint", lim.Min > 1 ? " (" + lim.Min + " to " + lim.Max + " characters)" : " (at most " + lim.Max + " characters)", "hint-" + name.replace("_", "-")));
    }
    const err = el("div", "ferr", null, "error-" + name.replace("_", "-"));
    err.id = id + "-err";
    input.setAttribute("aria-describedby", err.id);
    lab.appendChild(input);
    form.appendChild(lab);
    form.appendChild(err);
    inputs[name] = input;
    errs[name] = err;
  }
  const general = el("div", "ferr", null, "form-error");
  const submit = el("button", "btn primary", attest ? "Attest" : "File request", "form-submit");
  submit.type = "submit";
  form.appendChild(general);
  form.appendChild(submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    const body = { persona: me, entry: e.seq };
    for (const k in inputs) body[k] = inputs[k].value;
    try {
      const m = await api("/api/submit", body);
      for (const k in errs) { errs[k].textContent = ""; inputs[k].removeAttribute("aria-invalid"); }
      general.textContent = "";
      if (m.Errors) {
        for (const k in m.Errors) if (errs[k]) { errs[k].textContent = m.Errors[k]; inputs[k].setAttribute("aria-invalid", "true"); }
      } else if (m.Refusal) {
        general.textContent = m.Text;
      }
    } catch (err) {
      general.textContent = "The demo server did not answer: " + err.message;
    }
    submit.disabled = false;
    poll();
  });
  return form;
}

// ---- approvals channel ----
function factOf(m, label) {
  for (const s of m.Sections || []) for (const f of s.Facts || []) if (f.Label === label) return f.Value;
  return "";
}

function renderCard(c) {
  const m = c.message;
  const state = factOf(m, "State") || "pending";
  const art = el("article", "card s-" + state.split(/[\s(]/)[0], null, "approval-card");
  art.dataset.request = m.RequestID || "";
  art.dataset.state = state;
  const head = el("div", "cardhead");
  head.appendChild(el("span", "pill", state, "card-state"));
  head.appendChild(el("span", "title", m.Title, "card-title"));
  head.appendChild(el("span", "cardmeta", "posted " + hhmm(c.posted) + (c.rev > 1 ? " · updated " + hhmm(c.updated) : "")));
  art.appendChild(head);
  renderBody(art, m, { noTitle: true });
  if (m.Buttons && m.Buttons.length) {
    // The deny box survives a redraw of the card (a poll, a note): its state is kept
    // per request, not in the DOM.
    const ds = denyState.get(m.RequestID) || { open: false, value: "", error: "" };
    const actions = el("div", "actions");
    const denyBox = el("div", "denybox");
    denyBox.hidden = !ds.open;
    const just = el("input", null, null, "deny-justification");
    just.placeholder = "Why deny? (the requester sees this)";
    just.setAttribute("aria-label", "Justification for denying");
    just.value = ds.value;
    just.addEventListener("input", () => { ds.value = just.value; });
    const confirm = el("button", "btn deny", "Deny request", "deny-confirm");
    const denyErr = el("div", "ferr", ds.error, "deny-error");
    if (ds.error) just.setAttribute("aria-invalid", "true");
    denyBox.append(just, confirm, denyErr);
    for (const b of m.Buttons) {
      const btn = el("button", "btn " + b.Kind, b.Label, b.Kind);
      if (b.Kind === "approve") btn.addEventListener("click", () => decide(c.id, b.Value, true, "", [btn]));
      else if (b.Kind === "retry") btn.addEventListener("click", () => decide(c.id, b.Value, false, "", [btn], null, true));
      else if (b.Kind === "continue" || b.Kind === "stop") btn.addEventListener("click", () => decide(c.id, b.Value, false, "", [btn], null, false, b.Kind));
      else btn.addEventListener("click", () => { ds.open = true; denyState.set(m.RequestID, ds); denyBox.hidden = false; just.focus(); });
      actions.appendChild(btn);
    }
    confirm.addEventListener("click", () => decide(c.id, m.RequestID, false, just.value, [confirm], (m2) => {
      ds.error = (m2 && m2.Errors && m2.Errors.justification) || "";
      denyState.set(m.RequestID, ds);
      denyErr.textContent = ds.error;
      if (ds.error) just.setAttribute("aria-invalid", "true"); else just.removeAttribute("aria-invalid");
    }));
    art.appendChild(actions);
    art.appendChild(denyBox);
  }
  if (c.note) {
    const n = c.note.message;
    const box = el("div", "private" + (n.Refusal ? " refusal" : ""), null, "card-note");
    box.appendChild(el("div", "who", "Only you can see this · " + hhmm(c.note.time)));
    box.appendChild(richEl("div", "text", n.Text, "card-note-text"));
    art.appendChild(box);
  }
  return art;
}

// decide sends a click with the card it was made on (the bot counts a decision only
// from the request's own card); then (answer) runs before the redraw, so state it
// keeps for the card shows in the redrawn card.
async function decide(cardId, id, approve, justification, buttons, then, retry, bulk) {
  for (const b of buttons) b.disabled = true;
  let m = null;
  try {
    m = await api("/api/decide", { persona: me, card_id: cardId, request_id: id, approve, justification, retry: !!retry, bulk: bulk || "" });
  } catch (err) {
    $("conn").textContent = "The demo server did not answer: " + err.message;
  }
  if (then) then(m);
  for (const b of buttons) b.disabled = false;
  await poll();
}

// ---- inbox and audit ----
function renderInbox(e) {
  const box = el("div", "inbox-item" + (e.message.Refusal ? " refusal" : ""), null, "inbox-message");
  box.appendChild(el("div", "who", "mfadesk · " + hhmm(e.time)));
  // A message to the target: the three numbers and "This is not me", under its
  // headline ("Is this you?", "Your account was changed").
  const target = (e.message.Buttons || []).filter((b) => b.Kind === "pick" || b.Kind === "not_me");
  if (target.length && e.message.Title) box.appendChild(el("div", "title", e.message.Title));
  box.appendChild(richEl("div", "text", e.message.Text));
  if (target.length) {
    const row = el("div", "actions", null, "target-actions");
    for (const b of target) {
      const btn = el("button", "btn " + (b.Kind === "not_me" ? "deny" : "approve"), b.Label, b.Kind);
      btn.type = "button";
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          await api("/api/target", { persona: me, kind: b.Kind, value: b.Value });
        } catch (err) {
          $("conn").textContent = "The demo server did not answer: " + err.message;
        }
        btn.disabled = false;
        await poll();
      });
      row.appendChild(btn);
    }
    box.appendChild(row);
  }
  // A manager asked to attest answers in a form, in the inbox.
  if (e.message.Form) box.appendChild(renderForm(e));
  return box;
}

// renderAudit lays out bot.AuditLine ("#SEQ TIME KIND rest · chain head #N HASH")
// for reading: number, kind and time on top, the rest below, the chain head small.
// A line in another shape is shown as it is.
function renderAudit(a) {
  const d = el("div", "audit-line", null, "audit-line");
  if (a.security) {
    d.classList.add("security");
    d.appendChild(el("div", "ahead", "Security channel"));
    d.appendChild(el("div", "abody", a.text));
    return d;
  }
  const m = /^#(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d UTC) (\S+) ([\s\S]*?)(?: · (chain head #\d+ \S+))?$/.exec(a.text);
  if (!m) { d.textContent = a.text; return d; }
  const head = el("div", "ahead");
  head.appendChild(el("span", "seq", "#" + m[1]));
  head.appendChild(el("span", "kind k-" + m[3].replace(/^request_/, ""), m[3]));
  head.appendChild(el("span", "atime", m[2]));
  d.appendChild(head);
  d.appendChild(el("div", "abody", m[4]));
  if (m[5]) d.appendChild(el("div", "chain", m[5]));
  return d;
}

// sync brings a pane in line with a list: new items are appended, changed ones (by
// their revision) replaced in place, dropped ones removed.
function sync(pane, map, items, key, rev, render, emptyText) {
  const node = $(pane);
  const atBottom = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
  const keep = new Set();
  let added = false;
  for (const it of items) {
    const k = key(it), r = rev(it);
    keep.add(k);
    const have = map.get(k);
    if (have && have.rev === r) continue;
    const n = render(it);
    if (have) node.replaceChild(n, have.node);
    else { node.appendChild(n); added = true; }
    map.set(k, { rev: r, node: n });
  }
  for (const [k, v] of map) if (!keep.has(k)) { v.node.remove(); map.delete(k); }
  const empty = node.querySelector(":scope > .empty");
  if (items.length === 0 && !empty) node.appendChild(typeof emptyText === "function" ? emptyText() : el("div", "empty", emptyText));
  if (items.length > 0 && empty) empty.remove();
  if (!added) return;
  // A new card is read from its top (what, on whom, why); chat-like panes follow the
  // newest line, the audit pane only if the reader has not scrolled up. Only the pane
  // scrolls: scrollIntoView would also scroll the page, which below 1100 px stacks
  // the panes and would open on the approvals pane instead of the conversation.
  if (pane === "approvals") node.scrollTop += node.lastElementChild.getBoundingClientRect().top - node.getBoundingClientRect().top - 12;
  else if (atBottom || pane !== "audit") node.scrollTop = node.scrollHeight;
}

// tour is the empty conversation: the walk through the two-person rule.
function tour() {
  const p = persona(me);
  const domain = (p.upn.split("@")[1]) || "mfademo.example";
  const box = el("div", "empty tour", null, "tour");
  box.appendChild(el("div", "title", "Try the two-person rule in six steps"));
  const ol = el("ol");
  for (const step of [
    "As Hana Helpdesk, type: diagnose mfatest2@" + domain + " — the Authenticator was added but never verified.",
    "Type: reregister mfatest2@" + domain + " and fill in the form (reason, identity check, ticket).",
    "Switch to MFA Test 2, the user it is about: pick the number Hana was told in the inbox (the card then says Verified by mfadesk), or press This is not me.",
    "As Hana, click Approve on the card in #mfa-approvals: Hana may not approve her own request.",
    "Switch to Alex Approver at the top and approve: the card updates with what ran on the tenant.",
    "Watch #mfa-audit fill with hash-chained events; Nora Norights may do nothing at all.",
  ]) ol.appendChild(el("li", null, step));
  box.appendChild(ol);
  box.appendChild(el("div", "hint", "Lookups answer only you. Type help for every command."));
  return box;
}

function apply(st) {
  version = st.version;
  sync("conversation", shown.conversation, st.conversation || [], (e) => e.seq, (e) => e.rev, renderEntry, tour);
  sync("inbox", shown.inbox, st.inbox || [], (e) => e.seq, () => 1, renderInbox, "Outcomes of your requests arrive here.");
  sync("approvals", shown.approvals, st.approvals || [], (c) => c.id, (c) => c.rev + "/" + (c.note ? c.note.seq : 0), renderCard,
    "No requests yet. When a helpdesk agent files one, its card appears here for an approver.");
  sync("audit", shown.audit, st.audit || [], (a) => a.seq, () => 1, renderAudit, "Every request, decision, refusal and Graph call is logged here.");
  $("inbox-count").textContent = (st.inbox || []).length || "";
}

async function poll() {
  const who = me;
  try {
    const st = await api("/api/state?persona=" + encodeURIComponent(who) + "&since=" + version);
    if (who === me && !st.unchanged) apply(st);
  } catch (err) {
    $("conn").textContent = "Lost the demo server (" + err.message + "); retrying…";
  }
}

function schedule() {
  clearTimeout(polling);
  polling = setTimeout(async () => { await poll(); schedule(); }, 1000);
}

// ---- persona switching and the composer ----
function choose(id) {
  me = id;
  try { sessionStorage.setItem("mfadesk-persona", id); } catch (e) { /* storage off */ }
  version = 0;
  for (const pane in shown) { shown[pane].clear(); $(pane).replaceChildren(); }
  denyState.clear();
  for (const b of document.querySelectorAll(".persona")) b.setAttribute("aria-pressed", String(b.dataset.persona === id));
  showPersona(id);
  const p = persona(id);
  $("convo-who").textContent = "as " + p.name;
  renderChips(p);
  poll();
  $("text").focus();
}

// showPersona scrolls the persona row (one line on a narrow screen) sideways, and
// only sideways, so the chosen persona is in view.
function showPersona(id) {
  const row = $("personas");
  const b = row.querySelector('[data-persona="' + CSS.escape(id) + '"]');
  if (!b) return;
  const r = row.getBoundingClientRect(), q = b.getBoundingClientRect();
  if (q.left < r.left || q.right > r.right) row.scrollLeft += q.left - r.left - 8;
}

function renderChips(p) {
  const domain = (p.upn.split("@")[1]) || "mfademo.example";
  const cmds = ["help", "diagnose mfatest2@" + domain, "methods mfatest2@" + domain, "reregister mfatest2@" + domain, "revoke fiona.failures@" + domain, "pending"];
  const box = $("chips");
  box.replaceChildren();
  for (const c of cmds) {
    const b = el("button", "chip", c, "suggestion");
    b.type = "button";
    b.addEventListener("click", () => send(c));
    box.appendChild(b);
  }
  box.scrollLeft = 0;
  chipsOverflow();
}

// chipsOverflow shows the "more" button while chips are hidden to the right.
function chipsOverflow() {
  const box = $("chips");
  $("chips-more").hidden = box.scrollLeft + box.clientWidth >= box.scrollWidth - 2;
}
$("chips").addEventListener("scroll", chipsOverflow, { passive: true });
window.addEventListener("resize", chipsOverflow);
$("chips-more").addEventListener("click", () => {
  const box = $("chips");
  box.scrollBy({ left: box.clientWidth * 0.8, behavior: "smooth" });
});

async function click(b, btn) {
  btn.disabled = true;
  try { await api("/api/click", { persona: me, kind: b.Kind, value: b.Value }); }
  catch (err) { $("conn").textContent = "The demo server did not answer: " + err.message; }
  btn.disabled = false;
  await poll();
}

async function send(text) {
  $("send").disabled = true;
  try { await api("/api/command", { persona: me, text }); }
  catch (err) { $("conn").textContent = "The demo server did not answer: " + err.message; }
  $("send").disabled = false;
  await poll();
}

$("bar").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = $("text").value.trim();
  if (!t) return;
  $("text").value = "";
  send(t);
});

api("/api/personas").then((ps) => {
  personas = ps;
  ps.forEach((p, i) => {
    const b = el("button", "persona", null, "persona-" + p.id);
    b.type = "button";
    b.dataset.persona = p.id;
    b.setAttribute("aria-pressed", "false");
    b.appendChild(avatar(p.name, i));
    const t = el("span");
    t.appendChild(el("span", "pname", p.name));
    t.appendChild(el("span", "prole", p.role));
    b.appendChild(t);
    b.addEventListener("click", () => choose(p.id));
    $("personas").appendChild(b);
  });
  $("tenant").textContent = "fake Entra tenant " + ((ps[0].upn.split("@")[1]) || "");
  let start = ps[0].id;
  try { const s = sessionStorage.getItem("mfadesk-persona"); if (persona(s)) start = s; } catch (e) { /* storage off */ }
  choose(start);
  schedule();
}).catch((err) => { $("conn").textContent = "Could not load the personas: " + err.message; });
