/* The live dashboard: polls /dashboard/data every few seconds and redraws in place. */
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const state = {
    tz: params.get("tz") || "UTC",
    date: params.get("date") || "",
    refresh: Math.max(1, Number(params.get("refresh")) || 5),
    updates: 0,
  };
  const $ = (id) => document.getElementById(id);

  const TEAM_COLUMNS = [
    ["Replies", "n"], ["Resolves with Reply", "n"], ["Resolves without Reply", "n"],
    ["Average First Response Time", "s"], ["Average Handle Time", "s"], ["Total Handle Time", "s"],
    ["Contacts Helped", "n"],
  ];
  const AGENT_COLUMNS = [
    ["Replies", "n"], ["Resolves - With Reply", "n"], ["Resolves - No Reply", "n"], ["Handle Time (s)", "s"],
    ["Avg. Handle Time (s)", "s"], ["Utilization (%)", "n"], ["Available Time (s)", "s"], ["Away Time (s)", "s"],
    ["Contacts Helped", "n"],
  ];
  const CSAT = ["CSAT with Score 1", "CSAT with Score 2", "CSAT with Score 3", "CSAT with Score 4", "CSAT with Score 5"];

  function cell(row, column, kind, report) {
    const value = row[column] ?? "";
    const td = el("td", { "data-col": column, title: kind === "s" && value !== "" ? humanSeconds(value) : null });
    if (value === "") return td;
    // Each number links to its explanation: the conversations that make it (/explain/view).
    const id = row[report === "teams" ? "Team ID" : "User ID"];
    const q = new URLSearchParams({ type: report, tz: state.zone, from: state.day, to: state.day, row: id, column });
    td.append(el("a", { class: "explain", href: `/explain/view?${q}`, text: value }));
    return td;
  }

  function csatCell(row) {
    const counts = CSAT.map((c) => Number(row[c] || 0));
    const total = counts.reduce((a, b) => a + b, 0);
    const bar = el("span", { class: "csat", title: counts.map((n, i) => `${i + 1}: ${n}`).join("  ") });
    counts.forEach((n, i) => { if (n) bar.append(el("span", { class: "s" + (i + 1), style: `width:${(100 * n) / total}%` })); });
    const td = el("td", { class: "text", "data-col": "CSAT" }, bar, el("span", { class: "csat-n", text: counts.join(" · ") }));
    td.dataset.values = counts.join(",");
    return td;
  }

  function header(table, names) {
    table.tHead.replaceChildren(el("tr", {}, ...names.map((n, i) => el("th", { class: i === 0 ? "text" : null, text: n }))));
  }

  function body(table, rows, empty, columns) {
    const tbody = table.tBodies[0];
    if (!rows.length) tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns, text: empty })));
    else tbody.replaceChildren(...rows);
  }

  function renderTeams(teams) {
    const table = $("teams");
    header(table, ["Team", ...TEAM_COLUMNS.map((c) => c[0]), "CSAT 1–5"]);
    body(table, teams.map((t) => el("tr", { "data-id": t["Team ID"] },
      el("td", { class: "text" }, t["Team Name"] || t["Team ID"], el("span", { class: "id", text: t["Team Name"] ? t["Team ID"] : "" })),
      ...TEAM_COLUMNS.map(([c, k]) => cell(t, c, k, "teams")), csatCell(t))), "no team activity yet today", TEAM_COLUMNS.length + 2);
  }

  function presenceCell(p) {
    if (!p) return el("td", { class: "text", "data-col": "Presence" }, el("span", { class: "badge", text: "unknown" }));
    const label = p.state + (p.away_state ? ` (${p.away_state})` : "");
    return el("td", { class: "text", "data-col": "Presence", "data-state": p.state, title: p.since ? `since ${p.since}` : null },
      el("span", { class: "badge " + p.state, text: label }));
  }

  function renderAgents(agents) {
    const table = $("agents");
    header(table, ["Agent", "Presence", ...AGENT_COLUMNS.map((c) => c[0]), "CSAT 1–5"]);
    body(table, agents.map((a) => el("tr", { "data-id": a["User ID"] },
      el("td", { class: "text" }, a["User Name"] || a["User ID"], el("span", { class: "id", text: a["User Name"] ? a["User ID"] : "" })),
      presenceCell(a.presence), ...AGENT_COLUMNS.map(([c, k]) => cell(a, c, k, "agent_metrics")), csatCell(a))),
      "no agent activity yet today", AGENT_COLUMNS.length + 3);
  }

  function renderQueue(q) {
    $("queue-new").textContent = q.new;
    $("queue-pending").textContent = q.pending;
    if (q.oldest) {
      $("queue-oldest-age").textContent = humanSeconds(q.oldest.waiting_seconds);
      $("queue-oldest").textContent = `${q.oldest.conversation_id} · ${q.oldest.status} since ${q.oldest.created_at}`;
    } else {
      $("queue-oldest-age").textContent = "–";
      $("queue-oldest").textContent = "nobody is waiting";
    }
    const oldest = $("oldest");
    header(oldest, ["Conversation", "Status", "Created at", "Waiting", "Team", "Channel"]);
    oldest.tHead.querySelectorAll("th").forEach((th, i) => { if (i !== 3) th.className = "text"; });
    body(oldest, q.oldest_list.map((c) => el("tr", { "data-id": c.conversation_id },
      el("td", { text: c.conversation_id }), el("td", { class: "text" }, el("span", { class: "badge " + c.status, text: c.status })),
      el("td", { class: "text", text: c.created_at }), el("td", { text: humanSeconds(c.waiting_seconds), title: `${c.waiting_seconds} s` }),
      el("td", { class: "text", text: c.team || "" }), el("td", { class: "text", text: c.channel || "" }))), "the queue is empty", 6);
    const perTeam = $("queue-teams");
    header(perTeam, ["Team", "New", "Pending"]);
    body(perTeam, q.by_team.map((t) => el("tr", {}, el("td", { text: t.team }), el("td", { text: t.new }), el("td", { text: t.pending }))),
      "the queue is empty", 3);
  }

  function render(data) {
    document.querySelectorAll(".day").forEach((n) => { n.textContent = `${data.date} (${data.time_zone})`; });
    state.day = data.date;
    state.zone = data.time_zone;
    renderQueue(data.queue);
    $("responses").textContent = data.responses;
    const frt = data.first_response;
    $("frt-avg").textContent = frt.average_seconds === "" ? "–" : humanSeconds(frt.average_seconds);
    $("frt-avg").title = frt.average_seconds === "" ? "" : `${frt.average_seconds} s`;
    $("frt-count").textContent = `${frt.count} conversation${frt.count === 1 ? "" : "s"}`;
    const hours = [...Array(24).keys()].map((h) => String(h).padStart(2, "0"));
    const nowHour = data.date === localDate(data.time_zone) ? Number(localHour(data.time_zone)) : -1;
    barChart($("chart-hours"), hours, data.responses_per_hour, { highlight: nowHour, labelEvery: 2 });
    barChart($("chart-frt"), frt.labels, frt.classes);
    renderTeams(data.teams);
    renderAgents(data.agents);
    if (!state.date && document.activeElement !== $("date")) $("date").value = data.date;
    document.body.dataset.date = data.date;
    document.body.dataset.asOf = data.as_of;
  }

  function localDate(tz) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }
  function localHour(tz) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", hourCycle: "h23" }).format(new Date());
  }

  function setStatus(text, error) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!error);
  }

  async function poll() {
    const q = new URLSearchParams({ tz: state.tz });
    if (state.date) q.set("date", state.date);
    try {
      const resp = await fetch(`/dashboard/data?${q}`, { cache: "no-store" });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.error || resp.statusText);
      render(data);
      state.updates += 1;
      document.body.dataset.updates = state.updates;
      setStatus(`updated ${new Date().toLocaleTimeString()} · every ${state.refresh} s · ${data.seconds.toFixed(2)} s to compute`);
    } catch (err) {
      setStatus(`not updated: ${err.message}`, true);
    } finally {
      setTimeout(poll, state.refresh * 1000);
    }
  }

  $("tz").value = state.tz;
  $("date").value = state.date || localDate(state.tz);
  fillZones($("zones"));
  // Today is the default and is not written into the address: a page left open moves on at midnight.
  function go(tz, date) {
    const next = new URLSearchParams(location.search);
    next.set("tz", tz);
    if (date && date !== localDate(tz)) next.set("date", date);
    else next.delete("date");
    location.search = next.toString();
  }
  $("controls").addEventListener("submit", (ev) => {
    ev.preventDefault();
    go($("tz").value.trim() || "UTC", $("date").value);
  });
  $("date").addEventListener("change", () => { if ($("date").value) go($("tz").value.trim() || "UTC", $("date").value); });
  $("today").addEventListener("click", () => go($("tz").value.trim() || "UTC", ""));
  poll();
})();
