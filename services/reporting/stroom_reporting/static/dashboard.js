// Stroom dashboard: plain JavaScript, no build step, charts drawn as inline SVG. Every chart has a
// table beside it with the same figures, for screen readers and for whoever wants the numbers.
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
const DEFINITIVE = "definitief";
const UNITS = { benefits: "Uitkeringen", persons: "Personen" };
const PALETTE = ["#1f4e79", "#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457", "#827717"];
let organisations = [];
let loads = 0;

class ProblemError extends Error {}

// A problem answer (RFC 9457) as the reader sees it: its title, and its detail when it has one.
async function problem(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = { title: `De server antwoordde met status ${response.status}` };
  }
  const text = [body.title, body.detail].filter(Boolean).join(": ");
  if (response.status === 401) signOut(`Aanmelden mislukt: ${text}`);
  return new ProblemError(text || `De server antwoordde met status ${response.status}`);
}

function address(path, params) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value) url.searchParams.set(key, value);
  }
  return url;
}

async function call(path, params) {
  let response;
  try {
    response = await fetch(address(path, params), { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ProblemError("Geen verbinding met Stroom: controleer het netwerk en probeer het opnieuw");
  }
  if (!response.ok) throw await problem(response);
  return response;
}

const api = async (path, params) => (await call(path, params)).json();

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  showSignIn(message);
}

function showSignIn(message) {
  el("signin-message").textContent = message || "";
  el("signin").hidden = false;
  for (const id of ["filters", "views", "report", "signout"]) el(id).hidden = true;
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
  for (const id of ["filters", "views", "report", "signout"]) el(id).hidden = false;
  start().catch(showError);
}

function showError(error) {
  el("message").textContent = `Fout: ${error.message}`;
  el("message").hidden = false;
  el("status").textContent = "";
}

// ---------------------------------------------------------------------------------------------
// Building blocks

function node(tag, text, attrs) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  return n;
}

function option(value, label) {
  const o = node("option", label);
  o.value = value;
  return o;
}

function svg(tag, attrs, text) {
  const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

const count = (v) => (v === null || v === undefined ? "–" : nf.format(v));
// A figure suppressed for publication (reports:read:public) comes as null: shown as *, not 0.
const figureOrMark = (v) => (v === null ? "*" : nf.format(v));
const decimal = (v) => (v === null || v === undefined ? "–" : v.toLocaleString("nl-NL", { maximumFractionDigits: 1 }));
const percent = (v) => (v === null || v === undefined ? "–" : `${decimal(v)} %`);
// A month's status as CBS publishes figures, and whether a definitive month was revised.
const statusText = (r) => (r.status || "") + (r.revised ? " (herzien)" : "");

function monthName(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString("nl-NL", { month: "long", year: "numeric", timeZone: "UTC" });
}

function lastDay(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

// The date fields in Dutch whatever the browser's locale: a day as people write it here
// (dd-mm-jjjj; one digit, / or . also do), or a message that says what to type.
const DAY_EXAMPLE = "vul een datum in als dd-mm-jjjj, bijvoorbeeld 15-08-2024";

function parseDay(text) {
  const parts = text.trim().match(/^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/);
  if (!parts) return { error: `Ongeldige datum: ${DAY_EXAMPLE}.` };
  const [d, m, y] = parts.slice(1).map(Number);
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) {
    return { error: `${text.trim()} bestaat niet: ${DAY_EXAMPLE}.` };
  }
  return { iso: `${parts[3]}-${parts[2].padStart(2, "0")}-${parts[1].padStart(2, "0")}` };
}

function shortDate(iso) {
  const parts = iso.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  return parts ? `${parts[3]}-${parts[2]}-${parts[1]}` : iso;
}

function longDate(day) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString("nl-NL", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}

// Sums of `fields` per key, in the order the keys first appear: the municipalities together.
function sumBy(rows, key, fields) {
  const sums = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!sums.has(k)) sums.set(k, { first: r, ...Object.fromEntries(fields.map((f) => [f, 0])) });
    const s = sums.get(k);
    for (const f of fields) s[f] += r[f];
  }
  return [...sums.values()];
}

// A table of formatted cells; `rows` are { cells, status } and the first column is a label.
function dataTable(name, caption, headings, rows, foot) {
  const t = node("table", null, { "data-table": name });
  t.append(node("caption", caption));
  const head = t.createTHead().insertRow();
  for (const h of headings) head.append(node("th", h, { scope: "col" }));
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    r.cells.forEach((c, i) => tr.append(node(i === 0 ? "th" : "td", c, i === 0 ? { scope: "row" } : {})));
    if (r.status) {
      tr.dataset.status = r.status;
      if (r.status !== DEFINITIVE) tr.className = "provisional";
    }
    if (r.className) tr.classList.add(r.className);
    if (r.key) tr.dataset.key = r.key;
  }
  if (foot) {
    const tr = t.createTFoot().insertRow();
    foot.forEach((c, i) => tr.append(node(i === 0 ? "th" : "td", c, i === 0 ? { scope: "row" } : {})));
  }
  return t;
}

function section(title, ...children) {
  const s = node("section");
  s.append(node("h3", title), ...children);
  return s;
}

// A section over the whole width, for tables with many columns.
function wide(s) {
  s.classList.add("wide");
  return s;
}

function legend(series, hatched) {
  const list = node("ul", null, { class: "legend", "aria-hidden": "true" });
  for (const s of series) {
    const item = node("li");
    const swatch = node("span", null, { class: "swatch" });
    swatch.style.background = s.colour;
    item.append(swatch, s.name);
    list.append(item);
  }
  if (hatched) {
    const item = node("li");
    item.append(node("span", null, { class: "swatch hatched" }), "Gearceerd: nog niet definitief");
    list.append(item);
  }
  return list;
}

function step(range) {
  const raw = range / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * magnitude;
}

// The value axis: from zero for counts in a period, around the figures for a stock, so a change
// of a few percent is visible rather than flattened against zero.
function scale(values, fromZero) {
  const shown = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  let lo = fromZero || !shown.length ? 0 : Math.min(...shown);
  let hi = shown.length ? Math.max(...shown) : 1;
  if (hi - lo < 4) {
    hi = lo + 4;
    if (!fromZero) lo = Math.max(0, lo - 2);
  }
  const unit = Math.max(1, step(hi - lo));
  lo = Math.floor(lo / unit) * unit;
  hi = Math.ceil(hi / unit) * unit;
  return { lo, hi, unit };
}

let charts = 0;

function plot(label, categories, values, fromZero) {
  const width = 640, height = 260, left = 52, right = 12, top = 12, bottom = 44;
  const { lo, hi, unit } = scale(values, fromZero);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, "data-lo": lo, "data-hi": hi });
  const y = (v) => height - bottom - ((v - lo) / (hi - lo)) * (height - bottom - top);
  for (let v = lo; v <= hi; v += unit) {
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e3e7eb" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, nf.format(v)));
  }
  const band = (width - left - right) / Math.max(categories.length, 1);
  const x = (i) => left + band * i + band / 2;
  const every = Math.ceil(categories.length / 8);
  categories.forEach((c, i) => {
    if (i % every === 0) chart.append(svg("text", { x: x(i), y: height - bottom + 16, "text-anchor": "middle", "font-size": 11 }, c));
  });
  const box = node("figure", null, { class: "chart" });
  box.append(chart);
  return { box, chart, x, y, band, lo, id: ++charts, baseline: height - bottom };
}

// Bars per category and series from zero; bars of months that are not definitive are hatched.
function barChart(label, categories, series, statuses) {
  const p = plot(label, categories, series.flatMap((s) => s.values), true);
  const defs = svg("defs", {});
  series.forEach((s, k) => {
    const pattern = svg("pattern", { id: `hatch-${p.id}-${k}`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    pattern.append(svg("rect", { width: 6, height: 6, fill: "#fff" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: s.colour, "stroke-width": 3 }));
    defs.append(pattern);
  });
  p.chart.append(defs);
  const width = Math.max(2, (p.band * 0.8) / series.length - 1);
  categories.forEach((_, i) => {
    const status = statuses ? statuses[i] : "";
    const final = !status || status === DEFINITIVE;
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const bar = svg("rect", {
        x: p.x(i) - p.band * 0.4 + k * (width + 1),
        y: p.y(v),
        width,
        height: p.y(p.lo) - p.y(v),
        fill: final ? s.colour : `url(#hatch-${p.id}-${k})`,
        stroke: s.colour,
        "data-status": status || "",
        "data-final": final ? "true" : "false",
      });
      bar.append(svg("title", {}, `${categories[i]} ${s.name}: ${nf.format(v)}`));
      p.chart.append(bar);
    });
    if (!final) p.chart.append(svg("text", { x: p.x(i), y: p.baseline + 28, "text-anchor": "middle", "font-size": 9, fill: "#555" }, status));
  });
  p.box.append(legend(series, statuses && statuses.some((s) => s && s !== DEFINITIVE)));
  return p.box;
}

// Lines per series on an axis around the figures (not from zero).
function lineChart(label, categories, series) {
  const p = plot(label, categories, series.flatMap((s) => s.values), false);
  for (const s of series) {
    const points = s.values.map((v, i) => (v === null || v === undefined ? null : [p.x(i), p.y(v), v, i])).filter(Boolean);
    p.chart.append(svg("polyline", { points: points.map(([x, y]) => `${x},${y}`).join(" "), fill: "none", stroke: s.colour, "stroke-width": 3 }));
    points.forEach(([x, y, v, i]) => {
      const dot = svg("circle", { cx: x, cy: y, r: 3.5, fill: s.colour });
      dot.append(svg("title", {}, `${categories[i]} ${s.name}: ${decimal(v)}`));
      p.chart.append(dot);
    });
  }
  p.box.append(legend(series, false));
  return p.box;
}

// Horizontal bars for a ranking or a distribution; the table beside it holds the figures.
function rankBars(label, items, colour) {
  const list = node("ol", null, { class: "bars", "aria-label": label });
  const max = Math.max(1, ...items.map(([, v]) => v));
  for (const [name, value] of items) {
    const li = node("li");
    const track = node("span");
    const bar = node("span", null, { class: "bar" });
    bar.style.width = `${(100 * value) / max}%`;
    bar.style.background = colour;
    track.append(bar);
    li.append(node("span", name), track, node("span", nf.format(value)));
    list.append(li);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// The views. Each asks the API, returns what it shows and the download that goes with it:
// { subtitle, download: [path, params, csvTable], empty, nodes }.

function period(q) {
  return `periode ${monthName(q.from)} t/m ${monthName(q.to)}`;
}

function scopeParams(q) {
  return { organisation: q.organisation, municipality: q.municipality, from: q.from, to: q.to, asOf: q.asOf };
}

function dayParams(q) {
  return { organisation: q.organisation, municipality: q.municipality, stockDate: lastDay(q.to), asOf: q.asOf };
}

async function mutaties(q) {
  const params = { ...scopeParams(q), unit: q.unit };
  const doc = await api("/v1/reports/monthly", params);
  const name = q.municipality ? "municipality_totals" : "organisation_totals";
  const rows = doc.tables[name].rows
    .filter((r) => !q.municipality || r.municipality === q.municipality)
    .sort((a, b) => a.month.localeCompare(b.month));
  const months = rows.map((r) => r.month);
  const statuses = rows.map((r) => r.status);
  const first = rows[0], last = rows[rows.length - 1];
  const foot = first && ["Totaal periode", figureOrMark(first.begin),
    figureOrMark(rows.reduce((s, r) => s + r.inflow, 0)), figureOrMark(rows.reduce((s, r) => s + r.outflow, 0)),
    figureOrMark(last.end), ""];
  const unit = UNITS[q.unit];
  return {
    subtitle: `${unit} · ${period(q)}`,
    download: ["/v1/reports/monthly", params, name],
    empty: rows.every((r) => !r.begin && !r.inflow && !r.outflow && !r.end),
    nodes: [
      section(`Stand einde maand (${unit.toLowerCase()})`,
        lineChart("Stand einde maand", months, [{ name: "Stand einde maand", colour: PALETTE[0], values: rows.map((r) => r.end) }])),
      section("Instroom en uitstroom",
        barChart("Instroom en uitstroom per maand", months, [
          { name: "Instroom", colour: PALETTE[1], values: rows.map((r) => r.inflow) },
          { name: "Uitstroom", colour: PALETTE[2], values: rows.map((r) => r.outflow) },
        ], statuses)),
      section(`Mutaties per maand (${q.municipality ? doc.municipalities.map((m) => m.name).join(", ") : doc.organisation.name})`,
        dataTable("mutations", `${unit}: begin, instroom, uitstroom en eind per maand`,
          ["Maand", "Begin", "Instroom", "Uitstroom", "Eind", "Status"],
          rows.map((r) => ({ cells: [r.month, ...["begin", "inflow", "outflow", "end"].map((k) => figureOrMark(r[k])), statusText(r)], status: r.status })),
          foot)),
    ],
  };
}

async function redenen(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/reasons", params);
  const nodes = [];
  let total = 0;
  for (const [direction, title, colour] of [["inflow", "Instroom naar reden", PALETTE[1]], ["outflow", "Uitstroom naar reden", PALETTE[2]]]) {
    const sums = sumBy(doc.tables.reasons.rows.filter((r) => r.direction === direction), (r) => r.reason, ["count"])
      .sort((a, b) => b.count - a.count || a.first.reason_label.localeCompare(b.first.reason_label));
    const sum = sums.reduce((s, r) => s + r.count, 0);
    total += sum;
    nodes.push(section(title,
      rankBars(title, sums.map((s) => [s.first.reason_label, s.count]), colour),
      dataTable(direction === "inflow" ? "instroom" : "uitstroom", title, ["Reden", "CBS-code", "Aantal"],
        sums.map((s) => ({ cells: [s.first.reason_label, s.first.cbs_code || "–", nf.format(s.count)] })),
        ["Totaal", "", nf.format(sum)])));
  }
  return { subtitle: `Gestarte en beëindigde uitkeringen · ${period(q)}`, download: ["/v1/reports/reasons", params, "reasons"], empty: total === 0, nodes };
}

async function samenstelling(q) {
  const params = dayParams(q);
  const doc = await api("/v1/reports/composition", params);
  const rows = doc.tables.composition.rows;
  const dimensions = [...new Map(rows.map((r) => [r.dimension, r.dimension_label]))];
  const nodes = dimensions.map(([dimension, title]) => {
    const sums = sumBy(rows.filter((r) => r.dimension === dimension), (r) => r.value, ["count"]);
    const label = (s) => s.first.value_label;
    return section(title,
      rankBars(title, sums.map((s) => [label(s), s.count]), PALETTE[0]),
      dataTable(dimension, `Uitkeringen naar ${title.toLowerCase()}`, [title, "Aantal"],
        sums.map((s) => ({ cells: [label(s), nf.format(s.count)] }))));
  });
  return {
    subtitle: `Lopende uitkeringen · peildatum ${longDate(params.stockDate)}`,
    download: ["/v1/reports/composition", params, "composition"],
    empty: !rows.some((r) => r.count),
    nodes,
  };
}

async function plaatsingen(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/placements", params);
  const rows = doc.tables.placements.rows;
  // Loonkostensubsidie first: boards read it as its own block.
  const kinds = sumBy(rows, (r) => r.kind, []).map((s) => s.first)
    .sort((a, b) => (b.kind === "wage_subsidy") - (a.kind === "wage_subsidy"));
  const months = sumBy(rows, (r) => r.month, []).map((s) => s.first);
  const active = new Map(sumBy(rows, (r) => `${r.month}|${r.kind}`, ["active"]).map((s) => [`${s.first.month}|${s.first.kind}`, s.active]));
  const at = (month, kind) => active.get(`${month}|${kind}`) || 0;
  const sheltered = doc.tables.sheltered_work.rows.filter((r) => r.month === q.to);
  return {
    subtitle: `Actieve plaatsingen op het eind van elke maand · ${period(q)}`,
    download: ["/v1/reports/placements", params, "placements"],
    empty: !rows.some((r) => r.active),
    nodes: [
      wide(section("Plaatsingen per soort",
        lineChart("Actieve plaatsingen per soort", months.map((m) => m.month),
          kinds.map((k, i) => ({ name: k.kind_label, colour: PALETTE[i % PALETTE.length], values: months.map((m) => at(m.month, k.kind)) }))),
        dataTable("placements", "Actieve plaatsingen op maandeinde per soort",
          ["Maand", ...kinds.map((k) => k.kind_label), "Status"],
          months.map((m) => ({ cells: [m.month, ...kinds.map((k) => nf.format(at(m.month, k.kind))), statusText(m)], status: m.status }))))),
      section(`Beschut werk tegen taakstelling, eind ${monthName(q.to)}`,
        dataTable("sheltered", "Beschut werk: actief, taakstelling en realisatie per gemeente",
          ["Gemeente", "Actief", "Taakstelling incl. extra", "Realisatie"],
          sheltered.map((r) => ({ cells: [r.municipality_name, nf.format(r.active), r.target === null ? "geen" : decimal(r.target), percent(r.realisation_pct)] })))),
    ],
  };
}

async function trajecten(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/trajectories", params);
  const phases = sumBy(doc.tables.phases.rows, (r) => `${r.quarter}|${r.phase}`, ["begin", "inflow", "outflow", "end"]);
  const ended = sumBy(doc.tables.ended.rows, (r) => `${r.quarter}|${r.phase}|${r.outcome}`, ["count"]);
  const quarters = [...new Set(phases.map((p) => p.first.quarter))];
  const names = new Map(phases.map((p) => [p.first.phase, p.first.phase_label]));
  const end = new Map(phases.map((p) => [`${p.first.quarter}|${p.first.phase}`, p.end]));
  return {
    subtitle: `Per fase en kwartaal · ${period(q)}`,
    download: ["/v1/reports/trajectories", params, "phases"],
    empty: !phases.some((p) => p.begin || p.inflow || p.outflow || p.end),
    nodes: [
      section("Trajecten per fase",
        barChart("Trajecten per fase aan het eind van elk kwartaal", quarters,
          [...names].map(([code, name], i) => ({ name, colour: PALETTE[i % PALETTE.length], values: quarters.map((k) => end.get(`${k}|${code}`)) }))),
        dataTable("phases", "Trajecten per kwartaal en fase: begin, instroom, uitstroom en eind",
          ["Kwartaal en fase", "Begin", "Instroom", "Uitstroom", "Eind"],
          phases.map((p) => ({ cells: [`${p.first.quarter} ${p.first.phase_label}`, ...["begin", "inflow", "outflow", "end"].map((k) => nf.format(p[k]))] })))),
      section("Beëindigde trajecten",
        dataTable("ended", "Beëindigde trajecten naar laatste fase en uitkomst", ["Kwartaal, fase en uitkomst", "Aantal"],
          ended.map((e) => ({ cells: [`${e.first.quarter} ${e.first.phase_label}: ${e.first.outcome_label}`, nf.format(e.count)] })))),
    ],
  };
}

async function caseload(q) {
  const params = dayParams(q);
  const doc = await api("/v1/reports/caseload", params);
  const rows = doc.tables.caseload.rows;
  const streams = [...new Map(rows.map((r) => [r.client_stream, r.client_stream_label]))].sort((a, b) => a[1].localeCompare(b[1], "nl"));
  const coaches = sumBy(rows, (r) => r.coach, ["count"]).sort((a, b) => a.first.coach.localeCompare(b.first.coach, "nl"));
  const cells = new Map(sumBy(rows, (r) => `${r.coach}|${r.client_stream}`, ["count"]).map((s) => [`${s.first.coach}|${s.first.client_stream}`, s.count]));
  const at = (coach, stream) => cells.get(`${coach}|${stream}`) || 0;
  const total = coaches.reduce((s, c) => s + c.count, 0);
  return {
    subtitle: `Klanten met een lopende uitkering per klantmanager · peildatum ${longDate(params.stockDate)}`,
    download: ["/v1/reports/caseload", params, "caseload"],
    empty: total === 0,
    nodes: [
      section("Caseload per klantmanager",
        rankBars("Klanten per klantmanager", coaches.map((c) => [c.first.coach, c.count]), PALETTE[0]),
        dataTable("caseload", "Actieve klanten per klantmanager en doelgroep", ["Klantmanager", ...streams.map(([, label]) => label), "Totaal"],
          coaches.map((c) => ({ cells: [c.first.coach, ...streams.map(([s]) => nf.format(at(c.first.coach, s))), nf.format(c.count)] })),
          ["Totaal", ...streams.map(([s]) => nf.format(coaches.reduce((sum, c) => sum + at(c.first.coach, s), 0))), nf.format(total)])),
    ],
  };
}

async function poort(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/gate", params);
  const rows = q.municipality ? doc.tables.gate.rows.filter((r) => r.municipality === q.municipality) : doc.tables.totals.rows;
  const whole = doc.tables.period_totals.rows.find((r) => r.municipality === (q.municipality || "*"));
  const fields = ["received", "granted", "rejected", "withdrawn"];
  const names = ["Ontvangen", "Toegekend", "Afgewezen", "Ingetrokken"];
  return {
    subtitle: `Aanvragen ontvangen en besloten · ${period(q)}`,
    download: ["/v1/reports/gate", params, q.municipality ? "gate" : "totals"],
    empty: !rows.some((r) => fields.some((f) => r[f])),
    nodes: [
      section("Aanvragen per maand",
        barChart("Aanvragen per maand", rows.map((r) => r.month),
          fields.map((f, i) => ({ name: names[i], colour: PALETTE[i], values: rows.map((r) => r[f]) })),
          rows.map((r) => r.status)),
        dataTable("gate", "Aanvragen per maand: ontvangen, toegekend, afgewezen, ingetrokken en aandeel niet toegekend",
          ["Maand", ...names, "Niet toegekend", "Status"],
          rows.map((r) => ({ cells: [r.month, ...fields.map((f) => nf.format(r[f])), percent(r.not_granted_pct), statusText(r)], status: r.status })),
          ["Totaal periode", ...fields.map((f) => nf.format(whole[f])), percent(whole.not_granted_pct), ""])),
    ],
  };
}

// The quarters of the period, cut to its months: the points of each indicator's trend.
function quarterPeriods(from, to) {
  const index = (m) => Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1;
  const month = (i) => `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`;
  const periods = [];
  for (let i = index(from); i <= index(to); ) {
    const end = Math.min(index(to), i + 2 - (i % 3));
    periods.push([month(i), month(end)]);
    i = end + 1;
  }
  return periods;
}

const light = (r) => (r.met === null ? "unjudged" : r.met ? "met" : "missed");
const ownRows = (rows, q) => rows.filter((r) => r.municipality === (q.municipality || "*"));

async function kpis(q) {
  const params = scopeParams(q);
  const quarters = quarterPeriods(q.from, q.to);
  const [doc, ...trend] = await Promise.all([
    api("/v1/reports/kpis", params),
    ...quarters.map(([from, to]) => api("/v1/reports/kpis", { ...params, from, to })),
  ]);
  const rows = ownRows(doc.tables.kpis.rows, q);
  const labels = quarters.map(([from, to]) => (from === to ? from : `${from} t/m ${to}`));
  const nodes = [
    section("Indicatoren met norm",
      dataTable("kpis", "KPI's met waarde, vorig jaar, norm en teller en noemer",
        ["Indicator", "Waarde", "Zelfde periode vorig jaar", "Norm", "Norm gehaald", "Teller / noemer"],
        rows.map((r) => ({
          key: r.kpi,
          className: light(r),
          cells: [r.kpi_label, decimal(r.value), decimal(r.last_year), decimal(r.norm),
            r.met === null ? "–" : r.met ? "ja" : "nee",
            r.numerator === null ? "–" : `${decimal(r.numerator)} / ${decimal(r.denominator)}`],
        }))),
      node("p", doc.tables.kpis.rows.length ? doc.tables.kpis.rows[0].source : "", { class: "legend" })),
  ];
  for (const r of rows) {
    const values = trend.map((t) => (ownRows(t.tables.kpis.rows, q).find((k) => k.kpi === r.kpi) || {}));
    const s = section(`${r.kpi_label}: verloop per kwartaal`,
      lineChart(`Verloop ${r.kpi_label}`, labels, [
        { name: r.kpi_label, colour: PALETTE[0], values: values.map((v) => (v.value === undefined ? null : v.value)) },
        ...(r.norm === null ? [] : [{ name: "Norm", colour: "#9e9e9e", values: values.map((v) => (v.norm === undefined ? null : v.norm)) }]),
      ]),
      dataTable(`trend-${r.kpi}`, `Verloop ${r.kpi_label} per kwartaal`, ["Periode", "Waarde", "Norm", "Norm gehaald"],
        values.map((v, i) => ({
          className: light({ met: v.met === undefined ? null : v.met }),
          cells: [labels[i], decimal(v.value), decimal(v.norm), v.met === null || v.met === undefined ? "–" : v.met ? "ja" : "nee"],
        }))));
    s.className = `trend ${light(r)}`;
    s.dataset.kpi = r.kpi;
    if (r.definition) s.append(node("p", r.definition, { class: "legend" }));
    nodes.push(s);
  }
  return {
    subtitle: `Kritieke prestatie-indicatoren · ${period(q)} · verkeerslicht: groen norm gehaald, rood niet gehaald, grijs geen norm`,
    download: ["/v1/reports/kpis", params, "kpis"],
    empty: !rows.some((r) => r.value || r.numerator || r.denominator),
    nodes,
  };
}

async function draaideur(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/kpis", params);
  const rows = ownRows(doc.tables.revolving_door.rows, q);
  const byReason = sumBy(rows, (r) => r.outflow_reason, ["within_6m", "within_12m"]).sort((a, b) => b.within_12m - a.within_12m);
  return {
    subtitle: `Uitgestroomd in de periode en binnen 6 of 12 maanden terug in de uitkering · ${period(q)}`,
    download: ["/v1/reports/kpis", params, "revolving_door"],
    empty: !rows.some((r) => r.within_6m || r.within_12m),
    nodes: [
      section("Terug binnen 12 maanden naar uitstroomreden",
        rankBars("Terug binnen 12 maanden naar uitstroomreden", byReason.map((r) => [r.first.outflow_reason_label, r.within_12m]), PALETTE[2])),
      section("Draaideur naar uitstroomreden en nieuwe instroomreden",
        dataTable("door", "Terug in de uitkering naar uitstroomreden en nieuwe instroomreden",
          ["Uitstroomreden en nieuwe instroomreden", "Terug binnen 6 maanden", "Terug binnen 12 maanden"],
          rows.map((r) => ({ cells: [`${r.outflow_reason_label} → ${r.inflow_reason_label}`, nf.format(r.within_6m), nf.format(r.within_12m)] })),
          ["Totaal", nf.format(rows.reduce((s, r) => s + r.within_6m, 0)), nf.format(rows.reduce((s, r) => s + r.within_12m, 0))])),
    ],
  };
}

// A table of the API as it comes: its columns, headed as the API heads them.
function apiTable(name, caption, doc, source, columns, rows) {
  const table = doc.tables[source];
  const heading = (c) => (table.headings || {})[c] || doc.headings[c] || c;
  const shown = (v) => (typeof v === "number" ? decimal(v) : v === null || v === undefined ? "–" : String(v));
  return dataTable(name, caption, columns.map(heading), rows.map((r) => ({ cells: columns.map((c) => shown(r[c])) })));
}

// The board report (bestuursrapportage) as boards print it: per municipality the months as
// columns, for uitkeringen and personen, loonkostensubsidie and beschut werk; then the
// organisation's benefits per regulation.
async function bestuur(q) {
  const params = scopeParams(q);
  const doc = await api("/v1/reports/board", params);
  const t = doc.tables;
  const months = t.mutations.columns.filter((c) => /^\d{4}-\d{2}$/.test(c));
  const nodes = [];
  for (const m of doc.municipalities) {
    const own = (rows) => rows.filter((r) => r.municipality === m.code);
    const block = (unit, title) =>
      apiTable(`mutations-${m.code}-${unit}`, `${m.name}: ${title.toLowerCase()}`, doc, "mutations",
        ["line_label", ...months, "total"], own(t.mutations.rows).filter((r) => r.unit === unit));
    nodes.push(wide(section(m.name,
      block("benefits", "Aantal uitkeringen"),
      block("persons", "Personen"),
      apiTable(`lks-${m.code}`, `${m.name}: loonkostensubsidie`, doc, "wage_subsidy", ["municipality_name", "begin", ...months], own(t.wage_subsidy.rows)))));
  }
  nodes.push(wide(section("Beschut werk",
    apiTable("sheltered", "Beschut werk: taakstelling, additionele plekken en realisatie", doc, "sheltered_work",
      ["municipality_name", "taakstelling", "additional", "target", "realised", "realisation_pct"], t.sheltered_work.rows))));
  nodes.push(wide(section("Overzicht aantal uitkeringen",
    apiTable("regulations", "Aantal uitkeringen per regeling", doc, "regulations", ["regulation_label", "begin", ...months], t.regulations.rows),
    apiTable("status", "Status van de cijfers per maand", doc, "status", ["month", "status"], t.status.rows),
    ...(t.revisions.rows.length
      ? [dataTable("revisions", "Herzien nadat de maand definitief werd", ["Gemeente", "Regeling", "Eenheid", "Maand"],
          t.revisions.rows.map((r) => ({ cells: [r.municipality_name, r.regulation_label, UNITS[r.unit], r.month] })))]
      : []))));
  return {
    subtitle: `Bestuursrapportage · ${period(q)}`,
    download: ["/v1/reports/board", params, "mutations"],
    empty: !t.mutations.rows.some((r) => months.some((k) => r[k])),
    nodes,
  };
}

const VIEWS = {
  mutaties: ["Maandelijkse mutaties", mutaties],
  bestuur: ["Bestuursrapportage", bestuur],
  redenen: ["In- en uitstroomredenen", redenen],
  samenstelling: ["Samenstelling klantenbestand", samenstelling],
  plaatsingen: ["Plaatsingen en beschut werk", plaatsingen],
  trajecten: ["Trajecten per fase en kwartaal", trajecten],
  caseload: ["Caseload per klantmanager", caseload],
  poort: ["Poort: aanvragen", poort],
  kpis: ["KPI's", kpis],
  draaideur: ["Draaideur", draaideur],
};
let view = "mutaties";
let download = null;

// ---------------------------------------------------------------------------------------------
// Filters, address and downloads

// A month field is a month and a year select: from 2015, when the Participatiewet took effect,
// to this year, and any other year the address asks for.
const FIRST_YEAR = 2015;

function fillMonthField(id, month) {
  const [year, number] = month.split("-");
  const years = new Set();
  for (let y = FIRST_YEAR; y <= new Date().getFullYear(); y++) years.add(y);
  if (/^\d{4}$/.test(year)) years.add(Number(year));
  const months = el(`${id}-month`);
  if (!months.options.length) {
    for (let m = 1; m <= 12; m++) {
      const name = new Date(Date.UTC(2000, m - 1, 1)).toLocaleDateString("nl-NL", { month: "long", timeZone: "UTC" });
      months.append(option(String(m).padStart(2, "0"), name));
    }
  }
  el(`${id}-year`).replaceChildren(...[...years].sort((a, b) => a - b).map((y) => option(String(y), String(y))));
  el(`${id}-year`).value = year;
  months.value = number;
}

const monthField = (id) => `${el(`${id}-year`).value}-${el(`${id}-month`).value}`;

// The as-of day as the API wants it, or null after saying next to the field what is wrong.
function checkedAsOf() {
  const field = el("as-of");
  const text = field.value.trim();
  const parsed = text ? parseDay(text) : { iso: "" };
  el("as-of-error").textContent = parsed.error || "";
  if (parsed.error) {
    field.setAttribute("aria-invalid", "true");
    return null;
  }
  field.removeAttribute("aria-invalid");
  if (text) field.value = shortDate(parsed.iso);
  return parsed.iso;
}

function fillMunicipalities() {
  const org = organisations.find((o) => o.code === el("organisation").value);
  el("municipality").replaceChildren(option("", "Alle gemeenten"), ...(org ? org.municipalities : []).map((m) => option(m.code, m.name)));
}

function query(asOf) {
  return {
    organisation: el("organisation").value,
    municipality: el("municipality").value,
    unit: el("unit").value,
    from: monthField("from"),
    to: monthField("to"),
    day: asOf,
    asOf: asOf ? `${asOf}T23:59:59Z` : "",
  };
}

// The view and its parameters in the address, so it can be bookmarked and shared.
function remember(q) {
  const shown = new URLSearchParams();
  for (const [key, value] of Object.entries({ view, organisation: q.organisation, municipality: q.municipality, unit: q.unit, from: q.from, to: q.to, asOf: q.day })) {
    if (value) shown.set(key, value);
  }
  history.replaceState(null, "", `?${shown}`);
}

async function refresh(event) {
  if (event) event.preventDefault();
  const asOf = checkedAsOf();
  if (asOf === null) {
    el("as-of").focus();
    document.body.dataset.loaded = "invalid";
    return;
  }
  const ticket = ++loads;
  const q = query(asOf);
  remember(q);
  delete document.body.dataset.loaded;
  const [title, build] = VIEWS[view];
  for (const a of document.querySelectorAll("#views a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  el("unit-label").hidden = view !== "mutaties";
  el("view-title").textContent = title;
  el("message").hidden = true;
  el("status").textContent = "Bezig met laden…";
  offer(null);
  try {
    const shown = await build(q);
    if (ticket !== loads) return;
    const org = organisations.find((o) => o.code === q.organisation);
    const where = q.municipality ? el("municipality").selectedOptions[0].textContent : org ? org.name : q.organisation;
    const known = q.asOf ? ` · zoals bekend op ${longDate(q.asOf.slice(0, 10))}` : "";
    el("view-subtitle").textContent = `${where} · ${shown.subtitle}${known}`;
    el("empty").textContent = shown.empty ? `Geen gegevens voor ${where} in deze selectie.` : "";
    el("empty").hidden = !shown.empty;
    el("view").replaceChildren(...(shown.empty ? [] : shown.nodes));
    offer(shown.download);
    el("status").textContent = `Bijgewerkt ${new Date().toLocaleTimeString("nl-NL")}`;
    document.body.dataset.loaded = view;
  } catch (error) {
    if (ticket !== loads) return;
    el("view").replaceChildren();
    el("empty").hidden = true;
    showError(error);
    document.body.dataset.loaded = "error";
  }
}

function offer(files) {
  download = files;
  for (const id of ["download-csv", "download-xlsx"]) el(id).disabled = !files;
}

// The download of the view as the API makes it. The credential goes in the Authorization header,
// never in a link, so the file arrives through fetch and leaves as a Blob.
async function save(event) {
  if (!download) return;
  const format = event.currentTarget.dataset.format;
  const [path, params, csvTable] = download;
  try {
    const response = await call(path, { ...params, format, table: format === "csv" ? csvTable : "" });
    const disposition = response.headers.get("content-disposition") || "";
    const match = disposition.match(/filename="([^"]+)"/);
    const name = match ? match[1] : `stroom.${format}`;
    const link = node("a", null, { href: URL.createObjectURL(await response.blob()), download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    document.body.dataset.downloaded = name;
  } catch (error) {
    showError(error);
  }
}

function choose(event) {
  const target = event.target.closest("a[data-view]");
  if (!target) return;
  event.preventDefault();
  view = target.dataset.view;
  refresh();
}

let started = false;

async function start() {
  organisations = await api("/v1/organisations", {});
  el("organisation").replaceChildren(...organisations.map((o) => option(o.code, o.name)));
  const params = new URLSearchParams(location.search);
  if (VIEWS[params.get("view")]) view = params.get("view");
  // By default the last complete month and the year up to it: a month that has not ended looks
  // like a collapse in inflow.
  const now = new Date();
  const lastComplete = new Date(Date.UTC(now.getFullYear(), now.getMonth() - 1, 1));
  const to = params.get("to") || lastComplete.toISOString().slice(0, 7);
  fillMonthField("to", to);
  fillMonthField("from", params.get("from") || `${to.slice(0, 4)}-01`);
  if (params.get("unit")) el("unit").value = params.get("unit");
  if (params.get("asOf")) el("as-of").value = shortDate(params.get("asOf").slice(0, 10));
  if (params.get("organisation")) el("organisation").value = params.get("organisation");
  fillMunicipalities();
  if (params.get("municipality")) el("municipality").value = params.get("municipality");
  if (!started) {
    el("organisation").addEventListener("change", fillMunicipalities);
    el("filters").addEventListener("submit", refresh);
    el("views").addEventListener("click", choose);
    for (const id of ["download-csv", "download-xlsx"]) el(id).addEventListener("click", save);
    started = true;
  }
  await refresh();
}

el("signin").addEventListener("submit", signIn);
el("signout").addEventListener("click", () => signOut("U bent afgemeld."));
if (token) showReport();
else showSignIn();
