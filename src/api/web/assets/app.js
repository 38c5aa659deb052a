// mcp-portal dashboard: live updates on top of pages that work without this script.
// The servers table follows the user's event stream and refreshes its rows from
// /ui/users/{user}/live; the action buttons and the settings form post in the
// background (the page stays, and shows the outcome); a server's log follows its log
// stream; the copy button copies the MCP snippet. Both streams are authenticated by the
// session cookie (GET only); every post carries the form's CSRF field.
"use strict";

function refreshRows(table) {
  const user = table.dataset.user;
  fetch("/ui/users/" + encodeURIComponent(user) + "/live", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((rows) => {
      const byServer = new Map(rows.map((r) => [r.server, r]));
      for (const tr of table.querySelectorAll("tbody tr[data-server]")) {
        const r = byServer.get(tr.dataset.server);
        setCell(tr, "state", r ? r.state : "disabled");
        setCell(tr, "health", r ? r.health : "-");
        setCell(tr, "restarts", r ? String(r.restarts) : "0");
        const on = Boolean(r && r.enabled);
        for (const el of tr.querySelectorAll(".when-on")) el.hidden = !on;
        for (const el of tr.querySelectorAll(".when-off")) el.hidden = on;
        const pre = document.getElementById("log");
        if (on && r.state === "running" && pre && !pre.dataset.live && pre.dataset.follow) {
          pre.dataset.src = pre.dataset.follow;
          followLog(pre);
        }
      }
    })
    .catch(() => {});
}

function setCell(tr, name, value) {
  const td = tr.querySelector("td." + name);
  if (td && td.textContent !== value) {
    td.textContent = value;
    td.classList.add("changed");
  }
}

function followServers(table) {
  const user = table.dataset.user;
  const events = new EventSource("/api/v1/events?user=" + encodeURIComponent(user));
  events.addEventListener("SERVER_STATUS_CHANGED", (m) => {
    const d = JSON.parse(m.data);
    const tr = table.querySelector('tbody tr[data-server="' + CSS.escape(d.server_id) + '"]');
    if (tr) setCell(tr, "state", d.new_status);
    refreshRows(table);
  });
  events.addEventListener("USER_CATALOG_UPDATED", () => refreshRows(table));
  // Health and restart counts change without an event of their own.
  setInterval(() => refreshRows(table), 5000);
}

function followLog(pre) {
  const src = pre.dataset.src;
  const log = new EventSource(src);
  pre.dataset.live = "following";
  let first = true;
  log.addEventListener("log", (m) => {
    if (first) {
      pre.textContent = "";
      const problem = document.getElementById("log-problem");
      if (problem) problem.remove();
      first = false;
    }
    const d = JSON.parse(m.data);
    pre.appendChild(document.createTextNode(d.line + "\n"));
    pre.scrollTop = pre.scrollHeight;
  });
  log.addEventListener("error", (m) => {
    if (m.data) {
      const d = JSON.parse(m.data);
      pre.appendChild(document.createTextNode("[" + d.error.message + "]\n"));
    }
  });
  // A followed log ends when the container stops; a restarted one is followed anew.
  log.addEventListener("end", () => {
    log.close();
    delete pre.dataset.live;
  });
}

function showNotice(ok, message) {
  let n = document.getElementById("live-notice");
  if (!n) {
    n = document.createElement("pre");
    n.id = "live-notice";
    document.querySelector("main").prepend(n);
  }
  n.className = "notice " + (ok ? "ok" : "failed");
  n.setAttribute("role", ok ? "status" : "alert");
  n.textContent = message;
}

function postInBackground(form) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
    })
      .then((r) => r.json())
      .then((d) => showNotice(d.ok, d.message))
      .catch((e) => showNotice(false, "the portal did not answer: " + e))
      .finally(() => {
        buttons.forEach((b) => (b.disabled = false));
        const table = document.getElementById("servers");
        if (table) refreshRows(table);
      });
  });
}

function copyButtons() {
  for (const b of document.querySelectorAll("button[data-copy]")) {
    b.addEventListener("click", () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(
        () => (b.textContent = "Copied"),
        () => (b.textContent = "Select and copy")
      );
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("servers");
  if (table) followServers(table);
  const pre = document.getElementById("log");
  if (pre && pre.dataset.src) followLog(pre);
  for (const f of document.querySelectorAll("#servers form.inline, form#settings")) postInBackground(f);
  copyButtons();
});
