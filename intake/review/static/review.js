// The review station's keyboard and live checks. Keyboard first:
//   Tab / Enter     next flagged field (Enter on the last one goes to 確認)
//   y / n / f       in a 要/不要 or ○ field: 要 (○), 不要 (×), フリー (○); Backspace clears
//   Ctrl+Enter      confirm;  Alt+H / Alt+R  hold / return (type the note, then Enter)
//   Alt+A           accept every listed rule break as the customer wrote it
"use strict";
(function () {
  const form = document.getElementById("decide");
  const csrf = document.body.dataset.csrf;
  if (!form) return;
  const flagged = Array.from(form.querySelectorAll("input.value.flagged"));
  const values = Array.from(form.querySelectorAll("input.value"));
  const note = document.getElementById("note");
  let pending = null;  // the button a note was asked for (hold / return)

  const first = flagged[0] || (form.querySelector("#note[autofocus]") ? note : values[0]);
  if (first) { first.focus(); first.select && first.select(); }

  function nextAfter(input) {
    const i = flagged.indexOf(input);
    if (i >= 0 && i + 1 < flagged.length) return flagged[i + 1];
    if (i >= 0) return document.getElementById("confirm") || document.getElementById("keyed");
    const j = values.indexOf(input);
    return values[j + 1] || document.getElementById("confirm") || document.getElementById("keyed");
  }

  function setBool(input, on) {
    const kind = input.dataset.kind;
    if (on === null) input.value = "";
    else if (kind === "option_pair") input.value = on ? "要" : "不要";
    else input.value = on ? "○" : "×";
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  form.addEventListener("keydown", function (e) {
    const t = e.target;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      (document.getElementById("confirm") || document.getElementById("keyed")).click();
      return;
    }
    if (e.altKey && (e.key === "h" || e.key === "r")) {
      e.preventDefault();
      pending = document.getElementById(e.key === "h" ? "hold" : "return");
      note.focus();
      return;
    }
    if (e.altKey && e.key === "a") {
      e.preventDefault();
      document.querySelectorAll("#breaches input[type=checkbox]").forEach(function (c) { c.checked = true; });
      return;
    }
    if (t === note && e.key === "Enter") {
      e.preventDefault();
      if (pending) pending.click();
      return;
    }
    if (!t.classList || !t.classList.contains("value")) return;
    if (["option_pair", "circled_option", "stamp"].includes(t.dataset.kind) && !e.ctrlKey && !e.altKey) {
      const k = e.key.toLowerCase();
      if (k === "y" || k === "1" || k === "f") { e.preventDefault(); setBool(t, true); return; }
      if (k === "n" || k === "2" || k === "0") { e.preventDefault(); setBool(t, false); return; }
      if (k === "backspace" || k === "delete") { e.preventDefault(); setBool(t, null); return; }
    }
    if (e.key === "Enter") {
      e.preventDefault();
      const n = nextAfter(t);
      if (n) { n.focus(); n.select && n.select(); }
    }
  });

  // Live validation with the same rules as the store (POST /api/check/<form>).
  let timer = null;
  const breaches = document.getElementById("breaches");
  function check() {
    const typed = {};
    values.forEach(function (v) { typed[v.name.slice(2)] = v.value; });
    fetch("/api/check/" + encodeURIComponent(form.dataset.form), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ record: form.dataset.record || null, values: typed }),
    }).then(function (r) { return r.json(); }).then(function (res) {
      document.querySelectorAll(".live").forEach(function (d) { d.textContent = ""; });
      Object.keys(res.fields).forEach(function (k) {
        const d = document.getElementById("live-" + k);
        if (d) d.textContent = res.fields[k].join(" / ");
      });
      const checked = new Set(Array.from(breaches.querySelectorAll("input:checked")).map(function (c) { return c.value; }));
      const legend = breaches.querySelector("legend");
      breaches.textContent = "";
      breaches.appendChild(legend);
      const seen = new Set();
      res.breaches.forEach(function (b) {
        if (!b.acceptable || seen.has(b.code)) return;
        seen.add(b.code);
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox"; box.name = "accept"; box.value = b.code; box.checked = checked.has(b.code);
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + b.text + " "));
        breaches.appendChild(label);
      });
      form.dataset.checked = String(Date.now());
    });
  }
  // Keep the lease while the page is open (it lasts 5 minutes; renewed every 2).
  if (form.dataset.record) {
    setInterval(function () {
      fetch("/api/lease/" + encodeURIComponent(form.dataset.record), {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
      });
    }, 120000);
  }
  form.addEventListener("input", function (e) {
    if (!e.target.classList.contains("value")) return;
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
})();
