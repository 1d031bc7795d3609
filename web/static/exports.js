/* The export page: request an export, follow it, download it; recent exports and schedules. */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let current = null;

  function setStatus(text, error) {
    $("status").textContent = text;
    $("status").classList.toggle("error", !!error);
  }

  function badge(status) { return el("span", { class: "badge " + status, text: status }); }

  function renderRecent(recent) {
    const rows = recent.map((r) => el("tr", { "data-id": r.request_id },
      el("td", { class: "text", text: r.request_id }), el("td", { class: "text", text: r.export_type || "" }),
      el("td", { class: "text", "data-col": "status" }, badge(r.status)),
      el("td", { text: r.rows ?? "" }), el("td", { class: "text", text: r.requested_at || "" }),
      el("td", { class: "text", text: r.finished_at || "" }),
      el("td", { class: "text" }, r.download_url ? el("a", { class: "download", href: r.download_url, download: `${r.request_id}.csv`, text: "download" })
        : el("span", { class: "muted", text: r.error || "" }))));
    const tbody = $("recent").tBodies[0];
    if (rows.length) tbody.replaceChildren(...rows);
    else tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: 7, text: "no exports seen yet" })));
  }

  function renderSchedules(schedules) {
    const rows = schedules.map((s) => s.error
      ? el("tr", {}, el("td", { class: "text", colspan: 7 }, el("span", { class: "badge failed", text: "configuration rejected" }), " " + s.error))
      : el("tr", {}, el("td", { class: "text", text: s.export_type }), el("td", { class: "text", text: s.every }),
        el("td", { class: "text", text: s.time_zone }), el("td", { class: "text", text: s.channels.join(", ") || "all" }),
        el("td", { class: "text", text: s.folder }), el("td", { class: "text", text: s.last_file || "" }),
        el("td", { text: s.pending.length })));
    const tbody = $("schedules").tBodies[0];
    if (rows.length) tbody.replaceChildren(...rows);
    else tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: 7, text: "no scheduled exports configured" })));
  }

  let typesLoaded = false;
  async function refresh() {
    try {
      const resp = await fetch("/exports?format=json", { cache: "no-store" });
      const data = await resp.json();
      if (!typesLoaded) {
        $("export_type").replaceChildren(...data.export_types.map((t) => el("option", { value: t, text: t })));
        typesLoaded = true;
      }
      renderRecent(data.recent);
      renderSchedules(data.schedules);
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      setStatus(`not updated: ${err.message}`, true);
    }
  }

  function showProgress(result, started) {
    const p = $("progress");
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const done = result.status === "completed", failed = result.status === "failed";
    const line = el("div", {}, el("strong", { text: result.request_id }), " ", badge(result.status), " ",
      el("span", { class: "muted", text: `${seconds} s` }));
    const parts = [line];
    if (done) {
      parts.push(el("div", { id: "result" }, `${result.rows} rows · `,
        el("a", { class: "download", id: "download", href: result.download_url, download: `${result.request_id}.csv`, text: "Download CSV" })));
    } else if (failed) {
      parts.push(el("div", { class: "error", id: "error", text: result.error || "failed" }));
    } else {
      parts.push(el("div", { class: "bar-track" }, el("div", { class: "bar-fill indeterminate" })));
    }
    p.replaceChildren(...parts);
    p.dataset.status = result.status;
  }

  async function follow(rid, started) {
    while (current === rid) {
      try {
        const resp = await fetch(`/exports/status/${encodeURIComponent(rid)}`, { cache: "no-store" });
        if (resp.ok) {
          const result = await resp.json();
          showProgress(result, started);
          if (result.status === "completed" || result.status === "failed") { refresh(); return; }
        }
      } catch (err) { /* the worker is restarting: keep asking */ }
      await new Promise((r) => setTimeout(r, 400));
    }
  }

  $("export-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const body = Object.fromEntries(form.entries());
    body.channels = (body.channels || "").split(",").map((c) => c.trim()).filter(Boolean);
    const started = Date.now();
    $("submit").disabled = true;
    try {
      const resp = await fetch("/exports/request", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const data = await resp.json();
      if (!resp.ok) {
        $("progress").replaceChildren(el("div", { class: "error", id: "error", text: data.error || resp.statusText }));
        $("progress").dataset.status = "rejected";
        return;
      }
      current = data.request_id;
      showProgress({ request_id: data.request_id, status: "requested" }, started);
      follow(data.request_id, started);
    } finally {
      $("submit").disabled = false;
    }
  });

  const today = new Date().toISOString().slice(0, 10);
  $("date_from").value = today;
  $("date_to").value = today;
  fillZones($("zones"));
  refresh();
  setInterval(refresh, 3000);
})();
