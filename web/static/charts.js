/* Small inline-SVG charts and DOM helpers shared by the operator pages (no libraries). */
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/* A bar chart filling the SVG's viewBox: labels under the bars, values over them. */
function barChart(svg, labels, values, options) {
  const opts = Object.assign({ highlight: -1, labelEvery: 1 }, options || {});
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const top = 16, bottom = 22, left = 6, right = 6;
  const plotH = height - top - bottom, plotW = width - left - right;
  const max = Math.max(1, ...values);
  const slot = plotW / values.length, barW = Math.max(2, slot * 0.72);
  svg.replaceChildren();
  svg.append(svgEl("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
  values.forEach((v, i) => {
    const h = (v / max) * plotH, x = left + i * slot + (slot - barW) / 2, y = top + plotH - h;
    const bar = svgEl("rect", { class: "bar" + (i === opts.highlight ? " now" : ""), x, y, width: barW, height: Math.max(h, v ? 1 : 0),
                                "data-index": i, "data-value": v });
    bar.append(svgEl("title", {}, `${labels[i]}: ${v}`));
    svg.append(bar);
    if (v) svg.append(svgEl("text", { class: "v", x: x + barW / 2, y: y - 3, "text-anchor": "middle" }, String(v)));
    if (i % opts.labelEvery === 0)
      svg.append(svgEl("text", { x: x + barW / 2, y: height - 7, "text-anchor": "middle" }, labels[i]));
  });
}

function humanSeconds(value) {
  if (value === "" || value === null || value === undefined) return "";
  let s = Math.round(Number(value));
  if (!isFinite(s)) return "";
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function fillZones(datalist) {
  const zones = (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []);
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const z of ["UTC", mine, ...zones]) if (z) datalist.append(el("option", { value: z }));
}
