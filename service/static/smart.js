// The clinician's form. LHC-Forms renders the payer Questionnaire; this script marks beside each answer where
// it came from (chart, saved draft, changed by you), autosaves the in-progress response to the EHR, counts and
// lists the required questions still open, submits, and patches one thing LHC-Forms renders (see fixAria).
(function () {
  const container = document.getElementById("form-container");
  const status = document.getElementById("status");
  const progress = document.getElementById("progress");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const questionnaire = read("questionnaire");
  const marks = read("provenance");
  const focus = read("focus");
  let initial = null; // linkId -> the answer as first shown (what the marks describe)
  let lastSaved = null; // the answers the EHR last got, as JSON
  let saveTimer = null;
  let saving = false;
  let busy = false; // submitting: no autosave underneath

  function hhmm(iso) {
    const when = new Date(iso);
    if (isNaN(when)) return "";
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }
  function response() {
    return LForms.Util.getFormFHIRData("QuestionnaireResponse", "R4", container);
  }
  function valueOf(answer) {
    for (const key of Object.keys(answer)) {
      if (key.startsWith("value")) {
        const v = answer[key];
        return v !== null && typeof v === "object" ? (v.code !== undefined ? v.code : JSON.stringify(v)) : v;
      }
    }
    return null;
  }
  function answersOf(qr) {
    const out = {};
    (function walk(items) {
      for (const item of items || []) {
        if (item.answer && item.answer.length) out[item.linkId] = JSON.stringify(item.answer.map(valueOf));
        walk(item.item);
        for (const a of item.answer || []) walk(a.item);
      }
    })(qr.item);
    return out;
  }
  function linkIdOf(element) { // lhc-item ids are "item-<linkId>/1" (nested: "/1/1"); linkIds hold no "/"
    return element.id.slice(5).split("/")[0];
  }
  function items() {
    return [...container.querySelectorAll("lhc-item[id^='item-']")];
  }
  function inputOf(item) {
    return item.querySelector("input:not([type=hidden]), select, textarea");
  }

  // LHC-Forms 40 names its help popover in aria-controls before the popover exists, so the value names no
  // element (axe aria-valid-attr-value, critical). We keep the value aside and restore it while it is open.
  function fixAria() {
    for (const el of container.querySelectorAll("[aria-controls], [data-aria-controls]")) {
      const target = el.getAttribute("aria-controls") || el.getAttribute("data-aria-controls");
      if (document.getElementById(target)) {
        if (el.getAttribute("aria-controls") !== target) el.setAttribute("aria-controls", target);
      } else if (el.hasAttribute("aria-controls")) {
        el.setAttribute("data-aria-controls", target);
        el.removeAttribute("aria-controls");
      }
    }
  }

  function markState(linkId, current) {
    const mark = marks[linkId];
    const changed = initial !== null && linkId in initial && current[linkId] !== initial[linkId];
    if (changed && mark) return { kind: "changed", text: "Changed by you" };
    if (!mark || !(linkId in current)) return null;
    if (mark.kind === "chart") return mark;
    const at = mark.at ? hhmm(mark.at) : "";
    return { kind: mark.kind, text: mark.text + (at ? " (" + at + ")" : "") };
  }
  function renderMark(item, linkId, state) {
    let box = item.querySelector(":scope .provenance");
    const key = state ? state.kind + "|" + state.text : "";
    if (box && box.dataset.key === key) return;
    if (!state) { if (box) box.remove(); return; }
    const host = item.querySelector(".lhc-de-input-unit-content") || item;
    if (!box) {
      box = document.createElement("div");
      box.className = "provenance";
      host.appendChild(box);
    }
    box.dataset.key = key;
    box.dataset.for = linkId;
    box.textContent = "";
    if (state.kind === "chart") { // opens the chart entry the answer came from
      const button = document.createElement("button");
      button.type = "button";
      button.className = "mark chart";
      button.id = "mark-" + linkId;
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", "evidence-" + linkId);
      button.textContent = state.text;
      const panel = document.createElement("p");
      panel.className = "evidence";
      panel.id = "evidence-" + linkId;
      panel.hidden = true;
      panel.textContent = state.detail + (state.reference ? " (" + state.reference + ")" : "");
      button.addEventListener("click", () => {
        panel.hidden = !panel.hidden;
        button.setAttribute("aria-expanded", String(!panel.hidden));
      });
      box.append(button, panel);
    } else {
      const span = document.createElement("span");
      span.className = "mark " + state.kind;
      span.id = "mark-" + linkId;
      span.textContent = state.text;
      box.appendChild(span);
    }
  }

  function refresh() {
    if (initial === null) return;
    fixAria();
    const current = answersOf(response());
    let required = 0, answered = 0;
    for (const item of items()) {
      const linkId = linkIdOf(item);
      renderMark(item, linkId, markState(linkId, current));
      if (focus.includes(linkId) && !item.classList.contains("asked")) item.classList.add("asked");
      if (item.classList.contains("lf-answer-required")) {
        required += 1;
        if (linkId in current) { answered += 1; item.classList.remove("is-missing"); }
      }
    }
    const words = answered + " of " + required + " required questions answered";
    if (progress.textContent !== words) progress.textContent = words;
    const now = JSON.stringify(current);
    if (lastSaved !== null && now !== lastSaved) scheduleSave();
  }
  let refreshTimer = null;
  function soon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  }

  async function post(url) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(response()) });
    const body = await r.json().catch(() => ({ error: "The service did not answer." }));
    if (!r.ok) { const e = new Error(body.error || ("Error " + r.status)); e.body = body; throw e; }
    return body;
  }
  function scheduleSave() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 1200);
  }
  async function save() {
    if (saving || busy) { scheduleSave(); return; }
    saving = true;
    const sent = JSON.stringify(answersOf(response()));
    status.textContent = "Saving…";
    try {
      const body = await post("/smart/save");
      lastSaved = sent;
      status.textContent = "Saved to the patient's chart at " + hhmm(body.at);
    } catch (e) {
      status.textContent = "Not saved: " + e.message;
    } finally {
      saving = false;
    }
  }

  function showMissing(body) {
    const section = document.getElementById("missing");
    const list = document.getElementById("missing-list");
    list.textContent = "";
    for (const item of body.missing) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "#" + item.linkId + "/1";
      a.textContent = item.text;
      a.addEventListener("click", (event) => {
        const target = document.getElementById("item-" + item.linkId + "/1");
        const input = target && inputOf(target);
        if (input) { event.preventDefault(); input.focus(); input.scrollIntoView({ block: "center" }); }
      });
      li.appendChild(a);
      list.appendChild(li);
      const row = document.getElementById("item-" + item.linkId + "/1");
      if (row) row.classList.add("is-missing");
    }
    section.hidden = false;
    section.focus();
    status.textContent = body.error;
  }
  async function submit(url) {
    busy = true;
    clearTimeout(saveTimer);
    status.textContent = "Submitting…";
    try {
      const body = await post(url);
      window.location.assign(body.result);
    } catch (e) {
      busy = false;
      if (e.body && e.body.missing) showMissing(e.body);
      else status.textContent = e.message;
    }
  }

  document.getElementById("save").addEventListener("click", () => { clearTimeout(saveTimer); save(); });
  document.getElementById("submit").addEventListener("click", () => submit("/smart/submit"));
  const review = document.getElementById("submit-review");
  if (review) review.addEventListener("click", () => submit("/smart/submit?review=true"));
  for (const type of ["input", "change", "click", "keyup", "focusout"]) document.addEventListener(type, soon, true);

  LForms.Util.addFormToPage(questionnaire, container, { prepopulate: false }).then(() => {
    initial = answersOf(response());
    lastSaved = JSON.stringify(initial);
    const saved = status.dataset.savedAt;
    if (saved) status.textContent = "Resumed your draft saved at " + hhmm(saved);
    new MutationObserver(soon).observe(container, { childList: true, subtree: true, attributes: true,
                                                    attributeFilter: ["aria-controls"] });
    setInterval(refresh, 2000); // a choice picked from a list re-renders nothing we can observe
    refresh();
    const asked = focus.map((id) => document.getElementById("item-" + id + "/1")).filter(Boolean);
    if (asked.length) {
      const input = inputOf(asked[0]);
      asked[0].scrollIntoView({ block: "center" });
      if (input) input.focus();
    }
    document.body.dataset.formReady = "true";
  });
})();
