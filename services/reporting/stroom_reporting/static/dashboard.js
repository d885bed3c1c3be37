// Stroom dashboard: plain JavaScript, no build step, charts drawn as inline SVG.
"use strict";

// Sign-in: the token comes from the URL fragment (`#token=…`, which browsers never send to a
// server) or the sign-in form, lives in sessionStorage (gone with the tab) and travels only in
// the Authorization header.
const TOKEN_KEY = "stroom.token";
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
  history.replaceState(null, "", location.pathname + location.search);
}
let token = sessionStorage.getItem(TOKEN_KEY);
const el = (id) => document.getElementById(id);
const nf = new Intl.NumberFormat("nl-NL");
const DIMENSIONS = { regulation: "Regeling", duration: "Duur uitkering", age: "Leeftijd", household: "Huishouden" };
const HOUSEHOLD = { single: "Alleenstaand", couple: "Paar" };
const DEFINITIVE = "definitief";
let organisations = [];

// A month's status as CBS publishes figures, and whether a definitive month was revised.
const statusText = (r) => (r.status || "") + (r.revised ? " (herzien)" : "");

async function api(path, params) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value) url.searchParams.set(key, value);
  }
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json();
  if (response.status === 401) {
    signOut(`Aanmelden mislukt: ${body.title}. ${body.detail || ""}`);
    throw new Error(body.title);
  }
  if (!response.ok) throw new Error(body.detail || body.title);
  return body;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  showSignIn(message);
}

function showSignIn(message) {
  el("signin-message").textContent = message || "";
  el("signin").hidden = false;
  el("filters").hidden = true;
  el("report").hidden = true;
  el("signout").hidden = true;
}

function signIn(event) {
  event.preventDefault();
  const value = el("signin-token").value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  token = value;
  el("signin-token").value = "";
  showReport();
}

function showReport() {
  el("signin").hidden = true;
  el("filters").hidden = false;
  el("report").hidden = false;
  el("signout").hidden = false;
  start().catch((error) => {
    el("status").textContent = `Fout: ${error.message}`;
  });
}

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

function fillMunicipalities() {
  const org = organisations.find((o) => o.code === el("organisation").value);
  const select = el("municipality");
  select.replaceChildren(option("", "Alle gemeenten"), ...org.municipalities.map((m) => option(m.code, m.name)));
}

function lastDay(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawChart(rows) {
  const width = 900, height = 280, left = 50, bottom = 52, top = 20;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Verloop bestand" });
  const defs = svg("defs", {});
  for (const [id, colour] of [["hatch-in", "#2e7d32"], ["hatch-out", "#c62828"], ["hatch-legend", "#555"]]) {
    const pattern = svg("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    pattern.append(svg("rect", { width: 6, height: 6, fill: "#fff" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: colour, "stroke-width": 3 }));
    defs.append(pattern);
  }
  chart.append(defs);
  const max = Math.max(1, ...rows.map((r) => Math.max(r.end, r.begin, r.inflow, r.outflow)));
  const step = (width - left - 20) / Math.max(rows.length, 1);
  const y = (v) => height - bottom - (v / max) * (height - bottom - top);
  for (let i = 0; i <= 4; i++) {
    const v = Math.round((max * i) / 4);
    chart.append(svg("line", { x1: left, x2: width - 10, y1: y(v), y2: y(v), stroke: "#e3e7eb" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, nf.format(v)));
  }
  const bar = Math.max(2, step / 3 - 2);
  const points = [];
  rows.forEach((r, i) => {
    const x = left + i * step + step / 2;
    // Hatched: the month's figures are not definitive yet and may still change.
    const final = !r.status || r.status === DEFINITIVE;
    const inflow = svg("rect", { x: x - bar - 1, y: y(r.inflow), width: bar, height: y(0) - y(r.inflow), fill: final ? "#2e7d32" : "url(#hatch-in)", stroke: "#2e7d32" });
    const outflow = svg("rect", { x: x + 1, y: y(r.outflow), width: bar, height: y(0) - y(r.outflow), fill: final ? "#c62828" : "url(#hatch-out)", stroke: "#c62828" });
    for (const node of [inflow, outflow]) node.dataset.status = r.status || "";
    chart.append(inflow, outflow);
    chart.append(svg("text", { x, y: height - bottom + 16, "text-anchor": "middle", "font-size": 11 }, r.month));
    if (!final) chart.append(svg("text", { x, y: height - bottom + 28, "text-anchor": "middle", "font-size": 9, fill: "#555" }, r.status));
    if (r.end !== null) points.push(`${x},${y(r.end)}`);
  });
  chart.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#1f4e79", "stroke-width": 3 }));
  const legend = [["#1f4e79", "Stand einde maand"], ["#2e7d32", "Instroom"], ["#c62828", "Uitstroom"], ["url(#hatch-legend)", "Gearceerd: nog niet definitief"]];
  legend.forEach(([colour, label], i) => {
    chart.append(svg("rect", { x: left + i * 170, y: height - 14, width: 12, height: 12, fill: colour }));
    chart.append(svg("text", { x: left + 18 + i * 170, y: height - 4, "font-size": 12 }, label));
  });
  el("chart").replaceChildren(chart);
}

// A figure suppressed for publication (reports:read:public) comes as null: shown as *, not 0.
const figureOrMark = (v) => (v === null ? "*" : nf.format(v));

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function fillMutations(rows, period) {
  const body = el("mutations").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    cell(tr, r.month);
    for (const k of ["begin", "inflow", "outflow", "end"]) cell(tr, figureOrMark(r[k]));
    cell(tr, statusText(r));
    tr.dataset.status = r.status;
    if (r.status !== DEFINITIVE) tr.className = "provisional";
  }
  const foot = el("mutations").tFoot;
  foot.replaceChildren();
  if (period) {
    const tr = foot.insertRow();
    cell(tr, "Totaal periode");
    for (const k of ["begin", "inflow", "outflow", "end"]) cell(tr, figureOrMark(period[k]));
    cell(tr, "");
  }
}

function fillBars(list, items, label, value, css) {
  list.className = `bars ${css || ""}`;
  const max = Math.max(1, ...items.map(value));
  list.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = label(item);
      const track = document.createElement("span");
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = `${(100 * value(item)) / max}%`;
      track.append(bar);
      const count = document.createElement("span");
      count.textContent = nf.format(value(item));
      li.append(name, track, count);
      return li;
    }),
  );
}

function fillComposition(rows) {
  const box = el("composition");
  box.replaceChildren();
  for (const [dimension, title] of Object.entries(DIMENSIONS)) {
    const totals = {};
    for (const r of rows.filter((r) => r.dimension === dimension)) {
      const label = r.value_label || r.value;
      totals[label] = (totals[label] || 0) + r.count;
    }
    const h3 = document.createElement("h3");
    h3.textContent = title;
    const list = document.createElement("ol");
    fillBars(list, Object.entries(totals), ([v]) => HOUSEHOLD[v] || v, ([, c]) => c);
    box.append(h3, list);
  }
}

function fillSheltered(rows, month) {
  const body = el("sheltered").tBodies[0];
  body.replaceChildren();
  for (const r of rows.filter((r) => r.month === month)) {
    const tr = body.insertRow();
    cell(tr, r.municipality_name);
    cell(tr, nf.format(r.active));
    cell(tr, r.target === null ? "geen" : nf.format(r.target));
    cell(tr, r.realisation_pct === null ? "–" : `${r.realisation_pct.toLocaleString("nl-NL")} %`);
  }
}

const figure = (v) => (v === null ? "–" : v.toLocaleString("nl-NL", { maximumFractionDigits: 1 }));

function fillKpis(rows, municipality) {
  const body = el("kpis").tBodies[0];
  body.replaceChildren();
  for (const r of rows.filter((r) => r.municipality === (municipality || "*"))) {
    const tr = body.insertRow();
    tr.dataset.kpi = r.kpi;
    cell(tr, r.kpi_label);
    cell(tr, figure(r.value));
    cell(tr, figure(r.last_year));
    cell(tr, figure(r.norm));
    cell(tr, r.met === null ? "–" : r.met ? "ja" : "nee");
    cell(tr, r.numerator === null ? "–" : `${figure(r.numerator)} / ${figure(r.denominator)}`);
    // The definition as computed, for whoever wants to know what the number means.
    tr.cells[0].title = r.definition || "";
    tr.className = r.met === null ? "unjudged" : r.met ? "met" : "missed";
  }
  el("kpi-source").textContent = rows.length ? rows[0].source : "";
}

async function refresh(event) {
  if (event) event.preventDefault();
  const organisation = el("organisation").value;
  const municipality = el("municipality").value;
  const asOf = el("as-of").value ? `${el("as-of").value}T23:59:59Z` : "";
  const scope = { organisation, municipality, from: el("from").value, to: el("to").value, asOf };
  // The view in the address, so it can be bookmarked and shared.
  const shown = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries({ organisation, municipality, unit: el("unit").value, from: scope.from, to: scope.to, asOf: el("as-of").value })) {
    if (value) shown.set(key, value);
    else shown.delete(key);
  }
  history.replaceState(null, "", `?${shown}`);
  el("status").textContent = "Bezig met laden…";
  try {
    const monthly = await api("/v1/reports/monthly", { ...scope, unit: el("unit").value });
    const name = municipality ? "municipality_totals" : "organisation_totals";
    const rows = monthly.tables[name].rows
      .filter((r) => !municipality || r.municipality === municipality)
      .sort((a, b) => a.month.localeCompare(b.month));
    const first = rows[0], last = rows[rows.length - 1];
    const period = first && { begin: first.begin, end: last.end,
      inflow: rows.reduce((s, r) => s + r.inflow, 0), outflow: rows.reduce((s, r) => s + r.outflow, 0) };
    const names = monthly.municipalities.map((m) => m.name).join(", ");
    el("scope-label").textContent = `(${municipality ? names : monthly.organisation.name})`;
    fillMutations(rows, period);
    drawChart(rows);
    const reasons = await api("/v1/reports/reasons", scope);
    const top = (direction) => {
      const totals = {};
      for (const r of reasons.tables.reasons.rows.filter((r) => r.direction === direction)) {
        totals[r.reason_label] = (totals[r.reason_label] || 0) + r.count;
      }
      return Object.entries(totals).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
    };
    fillBars(el("top-inflow"), top("Instroom"), ([l]) => l, ([, c]) => c, "inflow");
    fillBars(el("top-outflow"), top("Uitstroom"), ([l]) => l, ([, c]) => c, "outflow");
    const stockDate = lastDay(scope.to);
    el("stock-date").textContent = stockDate;
    const composition = await api("/v1/reports/composition", { organisation, municipality, stockDate, asOf });
    fillComposition(composition.tables.composition.rows);
    const placements = await api("/v1/reports/placements", { ...scope, from: scope.to });
    fillSheltered(placements.tables.sheltered_work.rows, scope.to);
    const kpis = await api("/v1/reports/kpis", scope);
    el("kpi-period").textContent = `(${kpis.period.from} t/m ${kpis.period.to})`;
    fillKpis(kpis.tables.kpis.rows, municipality);
    el("status").textContent = `Bijgewerkt ${new Date().toLocaleTimeString("nl-NL")}`;
    document.body.dataset.loaded = "true";
  } catch (error) {
    el("status").textContent = `Fout: ${error.message}`;
  }
}

let started = false;

async function start() {
  organisations = await api("/v1/organisations", {});
  el("organisation").replaceChildren(...organisations.map((o) => option(o.code, o.name)));
  fillMunicipalities();
  const params = new URLSearchParams(location.search);
  // By default the last complete month and the year up to it: a month that has not ended looks
  // like a collapse in inflow.
  const now = new Date();
  const lastComplete = new Date(Date.UTC(now.getFullYear(), now.getMonth() - 1, 1));
  el("to").value = params.get("to") || lastComplete.toISOString().slice(0, 7);
  if (params.get("unit")) el("unit").value = params.get("unit");
  if (params.get("asOf")) el("as-of").value = params.get("asOf").slice(0, 10);
  el("from").value = params.get("from") || `${el("to").value.slice(0, 4)}-01`;
  if (params.get("organisation")) el("organisation").value = params.get("organisation");
  fillMunicipalities();
  if (params.get("municipality")) el("municipality").value = params.get("municipality");
  if (!started) {
    el("organisation").addEventListener("change", fillMunicipalities);
    el("filters").addEventListener("submit", refresh);
    started = true;
  }
  await refresh();
}

el("signin").addEventListener("submit", signIn);
el("signout").addEventListener("click", () => signOut("U bent afgemeld."));
if (token) showReport();
else showSignIn();
