/* The explanation page: the conversations that make one cell of an export (GET /explain). */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const FIELDS = ["type", "row", "row_channel", "column", "tz", "from", "to"];

  function setStatus(text, error) {
    $("status").textContent = text;
    $("status").classList.toggle("error", !!error);
  }

  function render(data) {
    const what = `${data.column} of ${data.export_type} row ${data.row}` + (data.row_channel !== undefined ? ` (channel ${data.row_channel || "none"})` : "");
    const parts = [el("div", {}, el("strong", { text: what }), ` · ${data.from} to ${data.to} (${data.time_zone})`),
      el("div", {}, "Total ", el("strong", { id: "total", text: data.total === "" ? "(empty)" : data.total }),
        data.numerator !== undefined ? ` = ${data.numerator} / ${data.denominator}` : "",
        data.distinct_values !== undefined ? ` distinct values` : "",
        ` · ${data.conversations.length} conversation${data.conversations.length === 1 ? "" : "s"}`)];
    $("summary").replaceChildren(...parts);
    $("summary").dataset.status = "done";
    const rows = data.conversations.map((c) => el("tr", { "data-id": c.conversation_id },
      el("td", { class: "text" }, el("a", { href: `/conversations/${encodeURIComponent(c.conversation_id)}`, text: c.conversation_id })),
      el("td", { "data-col": "contribution", text: c.contribution }), el("td", { text: c.numerator ?? "" }),
      el("td", { text: c.denominator ?? "" }), el("td", { class: "text", text: c.counts_at })));
    const tbody = $("conversations").tBodies[0];
    if (rows.length) tbody.replaceChildren(...rows);
    else tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: 5, text: "no conversation contributes to this cell" })));
    const presence = data.presence || [];
    $("presence-part").hidden = !presence.length;
    $("presence").tBodies[0].replaceChildren(...presence.map((p) => el("tr", {},
      el("td", { class: "text" }, el("span", { class: "badge " + p.state, text: p.state })), el("td", { class: "text", text: p.from }),
      el("td", { class: "text", text: p.to }), el("td", { text: p.contribution }))));
  }

  async function load() {
    const q = new URLSearchParams();
    for (const f of FIELDS) if (params.get(f)) q.set(f, params.get(f));
    for (const c of params.getAll("channel").flatMap((v) => v.split(","))) if (c.trim()) q.append("channel", c.trim());
    if (params.has("row_channel")) q.set("row_channel", params.get("row_channel"));
    $("summary").replaceChildren(el("span", { class: "muted", text: "explaining…" }));
    try {
      const resp = await fetch(`/explain?${q}`, { cache: "no-store" });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.error || resp.statusText);
      render(data);
      setStatus(`explained ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      $("summary").replaceChildren(el("div", { class: "error", id: "error", text: err.message }));
      $("summary").dataset.status = "failed";
      setStatus("not explained", true);
    }
  }

  for (const f of FIELDS) if (params.get(f) !== null && $(f)) $(f).value = params.get(f);
  if (params.getAll("channel").length) $("channel").value = params.getAll("channel").join(", ");
  if (!$("from").value) $("from").value = new Date().toISOString().slice(0, 10);
  if (!$("to").value) $("to").value = $("from").value;
  fillZones($("zones"));
  $("explain-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(ev.target).entries()) if (v !== "") next.append(k, v);
    location.search = next.toString();
  });
  if (params.get("row") && params.get("column")) load();
})();
