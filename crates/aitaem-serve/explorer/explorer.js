// The metrics explorer: choose metrics, break them down, chart and tabulate them, share the
// request as a link. It talks only to this server's HTTP API (docs/serve.md) and needs no
// build step: plain modern JavaScript, no libraries, nothing fetched from elsewhere.
"use strict";

const TABLE = "application/vnd.aitaem.table+json";
const MAX_SERIES = 12;
// Okabe and Ito's colours, which stay apart for colour-blind readers (yellow last: it is the
// faintest on white). Series 9 to 12 repeat them with a dashed line.
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"];
const DERIVED_LABELS = {
  comparison_value: "before",
  delta: "Δ",
  delta_pct: "Δ%",
  share_of_total: "share",
  cumulative_value: "cumulative",
  rolling_value: "rolling",
};

const $ = (id) => document.getElementById(id);
const project = { metrics: [], slices: [], segments: [], scan: [], periods: [], weekStarts: [], comparisons: [] };
const view = { running: null, table: null, sort: null, chosen: [] };
const seriesColours = new Map();

// ---- talking to the server -----------------------------------------------------------------

class Failure extends Error {
  constructor(kind, message, location) {
    super(message);
    this.kind = kind;
    this.location = location;
  }
}

function token() {
  return sessionStorage.getItem("aitaem-token") || "";
}

async function api(path, { body, method = body === undefined ? "GET" : "POST", accept = "application/json", signal } = {}) {
  const headers = { Accept: accept };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Failure("ConnectionError", `The server did not answer (${err.message}). Is aitaem serve still running?`);
  }
  if (response.status === 401) {
    $("token-box").hidden = false;
    throw new Failure("Unauthorized", "This server needs a token: enter it at the top of the form.");
  }
  if (!response.ok) {
    let error = null;
    try {
      error = (await response.json()).error;
    } catch (_) {
      // Not one of the server's own errors (a proxy's page, say).
    }
    if (error) throw new Failure(error.kind, error.message, error.location);
    throw new Failure(`HTTP ${response.status}`, response.statusText || "The server refused the request.");
  }
  return accept.includes("json") ? response.json() : response.blob();
}

// ---- the request, the form and the URL -----------------------------------------------------

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The window of a preset, as [start, end) days, counted from today (the reader's calendar). */
function presetWindow(preset, today = new Date()) {
  const day = (y, m, d) => isoDay(new Date(y, m, d));
  const [y, m, d] = [today.getFullYear(), today.getMonth(), today.getDate()];
  const tomorrow = day(y, m, d + 1);
  switch (preset) {
    case "7d": return [day(y, m, d - 6), tomorrow];
    case "28d": return [day(y, m, d - 27), tomorrow];
    case "90d": return [day(y, m, d - 89), tomorrow];
    case "mtd": return [day(y, m, 1), tomorrow];
    case "qtd": return [day(y, m - (m % 3), 1), tomorrow];
    case "ytd": return [day(y, 0, 1), tomorrow];
    default: return null;
  }
}

function checked(listId) {
  return [...$(listId).querySelectorAll("input:checked")].map((input) => input.value);
}

/** The chosen metrics, in the order they were chosen (the order of the charts and columns). */
function chosenMetrics() {
  const ticked = checked("metrics");
  view.chosen = [...view.chosen.filter((m) => ticked.includes(m)), ...ticked.filter((m) => !view.chosen.includes(m))];
  return view.chosen;
}

/** What the form says, in the URL's words. */
function formState() {
  return {
    metrics: chosenMetrics(),
    slices: checked("slices"),
    segment: $("segment").value,
    window: $("window").value,
    from: $("from").value,
    to: $("to").value,
    period: $("period").value,
    week_start: $("week-start").value,
    compare: $("compare").value,
    share: $("share").checked,
    cumulative: $("cumulative").checked,
    fill_gaps: $("fill-gaps").checked,
    rolling: $("rolling").value,
    by_entity: $("by-entity").value,
    limit: $("limit").value,
  };
}

/** The compute request of a form state (the JSON body of POST /v1/compute). */
function requestOf(state) {
  const body = { metrics: state.metrics, sort: true };
  if (state.slices.length) body.slices = state.slices;
  if (state.segment) {
    const [name, key] = state.segment.split(":");
    body.segments = [key ? { name, join_key: key } : name];
  }
  const window = state.window === "custom" ? (state.from && state.to ? [state.from, state.to] : null) : presetWindow(state.window);
  if (window) body.time_window = window;
  if (state.period) body.period = state.period;
  if (state.period === "weekly" && state.week_start) body.week_start = state.week_start;
  if (state.compare) body.compare = state.compare;
  if (state.share) body.share = true;
  if (state.cumulative) body.cumulative = true;
  if (state.fill_gaps) body.fill_gaps = true;
  if (state.rolling) body.rolling = Number(state.rolling);
  if (state.by_entity) body.by_entity = state.by_entity;
  return body;
}

function toQuery(state) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (Array.isArray(value)) {
      if (value.length) query.set(key, value.join(","));
    } else if (value === true) {
      query.set(key, "1");
    } else if (value && !(key === "window" && value === "all") && !(key === "limit" && value === "200")) {
      if ((key === "from" || key === "to") && state.window !== "custom") continue;
      if (key === "week_start" && state.period !== "weekly") continue;
      query.set(key, value);
    }
  }
  return query.toString();
}

function fromQuery(text) {
  const query = new URLSearchParams(text);
  const list = (key) => (query.get(key) || "").split(",").filter(Boolean);
  return {
    metrics: list("metrics"),
    slices: list("slices"),
    segment: query.get("segment") || "",
    window: query.get("window") || "all",
    from: query.get("from") || "",
    to: query.get("to") || "",
    period: query.get("period") || "",
    week_start: query.get("week_start") || "",
    compare: query.get("compare") || "",
    share: query.get("share") === "1",
    cumulative: query.get("cumulative") === "1",
    fill_gaps: query.get("fill_gaps") === "1",
    rolling: query.get("rolling") || "",
    by_entity: query.get("by_entity") || "",
    limit: query.get("limit") || "200",
  };
}

function setSelect(id, value) {
  const select = $(id);
  if ([...select.options].some((o) => o.value === value)) select.value = value;
}

function applyState(state) {
  view.chosen = [...state.metrics];
  for (const input of $("metrics").querySelectorAll("input")) input.checked = state.metrics.includes(input.value);
  // Names asked for in the URL that the project does not have still reach the server, which
  // says what is wrong with them.
  for (const name of state.metrics) {
    if (!project.metrics.some((m) => m.name === name)) addChoice($("metrics"), { name, description: "not in this project" }, true);
  }
  refreshBreakdowns(state);
  setSelect("window", state.window);
  $("from").value = state.from;
  $("to").value = state.to;
  setSelect("period", state.period);
  setSelect("week-start", state.week_start);
  setSelect("compare", state.compare);
  $("share").checked = state.share;
  $("cumulative").checked = state.cumulative;
  $("fill-gaps").checked = state.fill_gaps;
  $("rolling").value = state.rolling;
  setSelect("by-entity", state.by_entity);
  $("limit").value = state.limit;
  showDependentFields();
}

function showDependentFields() {
  $("custom-window").hidden = $("window").value !== "custom";
  $("week-start-box").hidden = $("period").value !== "weekly";
}

// ---- the choices ---------------------------------------------------------------------------

function addChoice(list, spec, isChecked, about) {
  const item = document.createElement("li");
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "checkbox";
  input.value = spec.name;
  input.checked = isChecked;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = spec.name;
  const text = document.createElement("span");
  text.className = "about";
  text.textContent = about !== undefined ? about : spec.description || "";
  label.append(input, name, text);
  item.append(label);
  item.dataset.search = `${spec.name} ${spec.description || ""}`.toLowerCase();
  list.append(item);
  return input;
}

function formatName(format) {
  if (!format) return "";
  if (format.startsWith("currency")) return format.includes(":") ? format.split(":")[1] : "currency";
  return format;
}

function renderMetricChoices() {
  const list = $("metrics");
  list.replaceChildren();
  for (const metric of project.metrics) {
    const about = [metric.description, formatName(metric.format)].filter(Boolean).join(" · ");
    const input = addChoice(list, metric, false, about);
    input.addEventListener("change", () => refreshBreakdowns(formState()));
  }
  if (!project.metrics.length) list.innerHTML = '<li class="empty">This project has no metrics.</li>';
}

/** Whether a slice or segment fits every chosen metric, as the scan says (a pair it does not
 * list, such as one with a derived metric, is left for the server to judge). */
function fits(spec, type, metrics) {
  return metrics.every((metric) => !project.scan.some((r) => r.metric === metric && r.spec === spec && r.spec_type === type && !r.compatible));
}

function joinKeys(segment, metrics) {
  let keys = null;
  for (const metric of metrics) {
    const row = project.scan.find((r) => r.metric === metric && r.spec === segment && r.spec_type === "segment");
    if (!row || !row.valid_join_keys) continue;
    keys = keys === null ? row.valid_join_keys : keys.filter((k) => row.valid_join_keys.includes(k));
  }
  return keys || [];
}

/** The slices, segments and entities that fit the chosen metrics, keeping what still fits. */
function refreshBreakdowns(state) {
  const metrics = state.metrics;
  const slices = $("slices");
  slices.replaceChildren();
  for (const slice of project.slices.filter((s) => fits(s.name, "slice", metrics))) {
    addChoice(slices, slice, state.slices.includes(slice.name));
  }
  for (const name of state.slices.filter((n) => !project.slices.some((s) => s.name === n && fits(n, "slice", metrics)))) {
    addChoice(slices, { name }, true, "does not fit the chosen metrics");
  }
  if (!slices.children.length) slices.innerHTML = '<li class="empty">No slice fits every chosen metric.</li>';

  const segment = $("segment");
  segment.replaceChildren(new Option("none", ""));
  for (const spec of project.segments.filter((s) => fits(s.name, "segment", metrics))) {
    const keys = joinKeys(spec.name, metrics);
    if (keys.length > 1) {
      for (const key of keys) segment.append(new Option(`${spec.name} (joined on ${key})`, `${spec.name}:${key}`));
    } else {
      segment.append(new Option(spec.name, spec.name));
    }
  }
  if (state.segment && ![...segment.options].some((o) => o.value === state.segment)) {
    segment.append(new Option(`${state.segment} (does not fit)`, state.segment));
  }
  segment.value = state.segment;

  const entity = $("by-entity");
  entity.replaceChildren(new Option("no", ""));
  const chosen = project.metrics.filter((m) => metrics.includes(m.name));
  const common = chosen.length ? chosen.map((m) => m.entities || []).reduce((a, b) => a.filter((x) => b.includes(x))) : [];
  for (const name of common) entity.append(new Option(name, name));
  setSelect("by-entity", state.by_entity);
}

function filterMetrics() {
  const words = $("metric-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const item of $("metrics").children) {
    item.hidden = !words.every((w) => (item.dataset.search || "").includes(w));
  }
}

// ---- computing -------------------------------------------------------------------------------

function showError(err) {
  const box = $("error");
  box.replaceChildren();
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = `${err.kind || "Error"}: `;
  const message = document.createElement("span");
  message.textContent = err.message;
  box.append(kind, message);
  if (err.location) {
    const where = document.createElement("pre");
    where.textContent = err.location;
    box.append(where);
  }
  box.hidden = false;
}

function showMessages(lines) {
  const list = $("messages");
  list.replaceChildren();
  for (const line of lines) {
    const item = document.createElement("li");
    item.textContent = line;
    list.append(item);
  }
}

function clearOutput() {
  $("error").hidden = true;
  showMessages([]);
}

async function compute({ push = true } = {}) {
  const state = formState();
  clearOutput();
  if (!state.metrics.length) {
    showError({ kind: "Nothing to compute", message: "Choose at least one metric." });
    return;
  }
  const query = toQuery(state);
  if (push && query !== location.search.slice(1)) history.pushState(null, "", `?${query}`);
  if (view.running) view.running.abort();
  const running = new AbortController();
  view.running = running;
  const started = performance.now();
  const names = state.metrics.join(", ");
  const tick = () => {
    $("progress-text").textContent = `Computing ${names}… ${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
  tick();
  const timer = setInterval(tick, 200);
  $("progress").hidden = false;
  $("compute").disabled = true;
  try {
    const table = await api("/v1/compute", { body: requestOf(state), accept: TABLE, signal: running.signal });
    view.table = table;
    view.sort = null;
    render(table, state);
  } catch (err) {
    if (err.name === "AbortError") {
      showMessages(["Cancelled: the server stops the statements it was running."]);
    } else {
      showError(err);
    }
  } finally {
    clearInterval(timer);
    if (view.running === running) {
      view.running = null;
      $("progress").hidden = true;
      $("compute").disabled = false;
    }
  }
}

function render(table, state) {
  const empty = table.rows.length
    ? []
    : [state.window !== "all" && state.window !== "custom"
      ? "No rows: nothing in this window (the preset windows count back from today)."
      : "No rows: nothing matches this request."];
  showMessages([...empty, ...table.warnings.map((w) => w.message), ...table.notices]);
  $("placeholder").hidden = true;
  renderCharts(table);
  renderTable(table, Number(state.limit) || 200);
  $("result").hidden = false;
  // On a narrow screen the form is above the output: bring the output into view.
  if (window.matchMedia("(max-width: 760px)").matches) $("output").scrollIntoView();
}

// ---- numbers -----------------------------------------------------------------------------------

function axisNumber(value, format) {
  if (format === "percentage") return `${+(value * 100).toFixed(2)}%`;
  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 }).format(value);
  if (format && format.startsWith("currency:")) return `${format.split(":")[1]} ${compact}`;
  return compact;
}

function niceTicks(low, high, count = 5) {
  if (low === high) {
    const pad = Math.abs(low) || 1;
    [low, high] = [low - pad, high + pad];
  }
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const start = Math.floor(low / step) * step;
  const ticks = [];
  for (let v = start; v <= high + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  if (ticks[ticks.length - 1] < high) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

// ---- charts ----------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function seriesName(labels) {
  const parts = [labels.entity, labels.slice !== "(all)" ? labels.slice : null, labels.segment !== "(all)" ? labels.segment : null];
  return parts.filter(Boolean).join(" · ") || "(all)";
}

function style(series) {
  if (!seriesColours.has(series)) seriesColours.set(series, seriesColours.size);
  const at = seriesColours.get(series);
  return { colour: COLOURS[at % COLOURS.length], dash: Math.floor(at / COLOURS.length) % 2 ? "6 3" : "" };
}

/** The column a metric's chart draws: the rolling or cumulative value when asked, else the value. */
function chartColumn(table, metric) {
  for (const name of ["rolling_value", "cumulative_value"]) {
    const at = table.derived.indexOf(name);
    if (at >= 0) return { column: metric.columns[at + 1], what: DERIVED_LABELS[name] };
  }
  return { column: metric.columns[0], what: null };
}

function renderCharts(table) {
  const charts = $("charts");
  charts.replaceChildren();
  seriesColours.clear();
  for (const metric of table.metrics) {
    const { column, what } = chartColumn(table, metric);
    const bySeries = new Map();
    table.labels.forEach((labels, row) => {
      const name = seriesName(labels);
      if (!bySeries.has(name)) bySeries.set(name, []);
      bySeries.get(name).push(row);
    });
    const size = (rows) => rows.reduce((sum, row) => sum + Math.abs(table.values[row][column] || 0), 0);
    const ranked = [...bySeries.entries()].sort((a, b) => size(b[1]) - size(a[1]));
    const shown = ranked.slice(0, MAX_SERIES);
    const rest = ranked.slice(MAX_SERIES).map(([name]) => name);
    for (const [name] of shown) style(name);

    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.style.margin = "0";
    const title = document.createElement("h2");
    title.textContent = what ? `${metric.name} (${what})` : metric.name;
    const spec = project.metrics.find((m) => m.name === metric.name);
    const about = document.createElement("p");
    about.className = "about";
    about.textContent = spec && spec.description ? spec.description : "";
    figure.append(title, about);
    const periods = [...new Set(table.labels.map((l) => l.period || ""))].sort();
    if (table.period_type === "all_time" || periods.length < 2) {
      figure.append(barChart(table, metric, column, shown));
    } else {
      figure.append(lineChart(table, metric, column, shown, periods));
    }
    figure.append(legend(shown.map(([name]) => name)));
    if (rest.length) {
      const more = document.createElement("p");
      more.className = "rest";
      const named = rest.slice(0, 40).join(", ");
      more.textContent = `Also in the table (${rest.length} more): ${named}${rest.length > 40 ? ", …" : ""}`;
      figure.append(more);
    }
    charts.append(figure);
  }
}

function legend(names) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const name of names) {
    const { colour, dash } = style(name);
    const item = document.createElement("li");
    const mark = svg("svg", { viewBox: "0 0 22 10", "aria-hidden": "true" });
    mark.append(svg("line", { x1: 1, y1: 5, x2: 21, y2: 5, stroke: colour, "stroke-width": 3, "stroke-dasharray": dash }));
    const text = document.createElement("span");
    text.textContent = name;
    item.append(mark, text);
    list.append(item);
  }
  return list;
}

function lineChart(table, metric, column, shown, periods) {
  const [width, height, left, right, top, bottom] = [640, 280, 70, 16, 10, 34];
  const values = shown.flatMap(([, rows]) => rows.map((r) => table.values[r][column])).filter((v) => v !== null);
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values));
  const [low, high] = [ticks[0], ticks[ticks.length - 1]];
  const x = (i) => left + (periods.length === 1 ? 0 : (i * (width - left - right)) / (periods.length - 1));
  const y = (v) => top + ((high - v) * (height - top - bottom)) / (high - low || 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", tabindex: "0",
    "aria-label": `${metric.name} by ${table.period_type} period; use the left and right arrow keys to read each period's values` });
  for (const tick of ticks) {
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, axisNumber(tick, metric.format)));
  }
  const every = Math.max(1, Math.ceil(periods.length / 8));
  periods.forEach((period, i) => {
    if (i % every === 0) chart.append(svg("text", { x: x(i), y: height - bottom + 16, "text-anchor": "middle" }, period));
  });
  chart.append(svg("line", { x1: left, x2: width - right, y1: y(low), y2: y(low), class: "axis" }));

  const at = new Map(periods.map((p, i) => [p, i]));
  for (const [name, rows] of shown) {
    const { colour, dash } = style(name);
    let path = "";
    let pen = "M";
    const points = rows.map((r) => [at.get(table.labels[r].period || ""), table.values[r][column], r]).sort((a, b) => a[0] - b[0]);
    for (const [i, v] of points) {
      if (v === null) { pen = "M"; continue; }
      path += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    }
    chart.append(svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash, "data-series": name }));
    if (periods.length <= 60) {
      for (const [i, v] of points) {
        if (v !== null) chart.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: colour }));
      }
    }
  }
  const guide = svg("line", { y1: top, y2: height - bottom, class: "hover-line", visibility: "hidden" });
  chart.append(guide);
  const rowAt = new Map();
  for (const [name, rows] of shown) for (const r of rows) rowAt.set(`${name}\u0000${table.labels[r].period || ""}`, r);
  let current = -1;
  const showPeriod = (i, anchor) => {
    current = Math.max(0, Math.min(periods.length - 1, i));
    guide.setAttribute("x1", x(current));
    guide.setAttribute("x2", x(current));
    guide.setAttribute("visibility", "visible");
    const rows = shown.map(([name]) => [name, rowAt.get(`${name}\u0000${periods[current]}`)]).filter(([, r]) => r !== undefined);
    tooltip(table, metric, periods[current], rows, anchor);
  };
  const hide = () => {
    guide.setAttribute("visibility", "hidden");
    $("tooltip").hidden = true;
  };
  chart.addEventListener("mousemove", (event) => {
    const box = chart.getBoundingClientRect();
    const scale = width / box.width;
    const offset = (event.clientX - box.left) * scale;
    const step = periods.length > 1 ? (width - left - right) / (periods.length - 1) : 1;
    showPeriod(Math.round((offset - left) / step), { x: event.clientX, y: event.clientY });
  });
  chart.addEventListener("mouseleave", hide);
  chart.addEventListener("blur", hide);
  chart.addEventListener("keydown", (event) => {
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = Math.abs(moves[event.key]) === Infinity ? (moves[event.key] > 0 ? periods.length - 1 : 0) : current + moves[event.key];
    const box = chart.getBoundingClientRect();
    showPeriod(next, { x: box.left + (Math.max(0, next) / Math.max(1, periods.length - 1)) * box.width * 0.8, y: box.top + 20 });
  });
  return chart;
}

function barChart(table, metric, column, shown) {
  const rowHeight = 24;
  const [width, left, right, top] = [640, 170, 90, 6];
  const height = top + shown.length * rowHeight + 8;
  const values = shown.map(([, rows]) => table.values[rows[0]][column]).filter((v) => v !== null);
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values) || 1;
  const x = (v) => left + ((v - low) * (width - left - right)) / (high - low || 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${metric.name}, one bar per series` });
  shown.forEach(([name, rows], i) => {
    const row = rows[0];
    const v = table.values[row][column];
    const y = top + i * rowHeight;
    const { colour } = style(name);
    const label = name.length > 26 ? `${name.slice(0, 25)}…` : name;
    chart.append(svg("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, label));
    if (v !== null) {
      const [a, b] = [x(Math.min(0, v)), x(Math.max(0, v))];
      const bar = svg("rect", { x: a, y: y + 3, width: Math.max(1, b - a), height: rowHeight - 8, fill: colour });
      bar.append(svg("title", {}, `${name}: ${table.rows[row][column]}`));
      chart.append(bar);
    }
    chart.append(svg("text", { x: x(Math.max(0, v || 0)) + 6, y: y + 15 }, table.rows[row][column]));
  });
  return chart;
}

/** The hover box: each series' value at a period, with its comparison and change when asked. */
function tooltip(table, metric, period, rows, anchor) {
  const box = $("tooltip");
  box.replaceChildren();
  const head = document.createElement("strong");
  head.textContent = `${metric.name}, ${period}`;
  const grid = document.createElement("table");
  const extra = ["comparison_value", "delta", "delta_pct", "cumulative_value", "rolling_value", "share_of_total"]
    .filter((name) => table.derived.includes(name));
  const header = document.createElement("tr");
  for (const text of ["", "value", ...extra.map((n) => DERIVED_LABELS[n])]) {
    const th = document.createElement("th");
    th.textContent = text;
    header.append(th);
  }
  grid.append(header);
  for (const [name, row] of rows) {
    const line = document.createElement("tr");
    const label = document.createElement("td");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = style(name).colour;
    label.append(swatch, document.createTextNode(name));
    line.append(label);
    const columns = [metric.columns[0], ...extra.map((n) => metric.columns[table.derived.indexOf(n) + 1])];
    for (const column of columns) {
      const cell = document.createElement("td");
      cell.textContent = table.rows[row][column];
      line.append(cell);
    }
    grid.append(line);
  }
  box.append(head, grid);
  box.hidden = false;
  const { innerWidth, innerHeight } = window;
  const rect = box.getBoundingClientRect();
  box.style.left = `${Math.max(4, Math.min(anchor.x + 14, innerWidth - rect.width - 4))}px`;
  box.style.top = `${Math.max(4, Math.min(anchor.y + 14, innerHeight - rect.height - 4))}px`;
}

// ---- the table -------------------------------------------------------------------------------

function renderTable(table, limit) {
  $("caption").textContent = table.caption || "";
  const order = table.rows.map((_, i) => i);
  if (view.sort) {
    const { column, descending } = view.sort;
    const numeric = table.numeric[column];
    order.sort((a, b) => {
      let by;
      if (numeric) {
        const [x, y] = [table.values[a][column], table.values[b][column]];
        by = x === null ? (y === null ? 0 : 1) : y === null ? -1 : x - y;
        if (descending && x !== null && y !== null) by = -by;
        return by;
      }
      by = table.rows[a][column].localeCompare(table.rows[b][column], undefined, { numeric: true });
      return descending ? -by : by;
    });
  }
  const element = $("table");
  element.replaceChildren();
  const head = document.createElement("thead");
  const headRow = document.createElement("tr");
  table.header.forEach((name, column) => {
    const th = document.createElement("th");
    th.scope = "col";
    if (table.numeric[column]) th.className = "num";
    if (view.sort && view.sort.column === column) th.setAttribute("aria-sort", view.sort.descending ? "descending" : "ascending");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.addEventListener("click", () => {
      const again = view.sort && view.sort.column === column;
      view.sort = { column, descending: again ? !view.sort.descending : table.numeric[column] };
      renderTable(table, limit);
      element.querySelectorAll("th button")[column].focus();
    });
    th.append(button);
    headRow.append(th);
  });
  head.append(headRow);
  const body = document.createElement("tbody");
  for (const row of order.slice(0, limit)) {
    const tr = document.createElement("tr");
    table.rows[row].forEach((text, column) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (table.numeric[column]) td.className = text === "–" ? "num null" : "num";
      tr.append(td);
    });
    body.append(tr);
  }
  element.append(head, body);
  $("table-note").textContent = table.rows.length > limit
    ? `Showing ${limit.toLocaleString("en-US")} of ${table.rows.length.toLocaleString("en-US")} rows; the downloads hold them all.`
    : `${table.rows.length.toLocaleString("en-US")} rows.`;
}

// ---- SQL, links, downloads -------------------------------------------------------------------

async function showSql() {
  const state = formState();
  clearOutput();
  if (!state.metrics.length) {
    showError({ kind: "Nothing to show", message: "Choose at least one metric." });
    return;
  }
  try {
    const answer = await api("/v1/sql", { body: requestOf(state) });
    const body = $("sql-body");
    body.replaceChildren();
    for (const statement of answer.statements) {
      const title = document.createElement("h3");
      title.textContent = `${statement.source} (${statement.backend}): ${statement.metrics.join(", ")}`;
      const sql = document.createElement("pre");
      sql.textContent = statement.sql;
      body.append(title, sql);
    }
    for (const derived of answer.derived_metrics) {
      const line = document.createElement("p");
      line.textContent = `${derived.name} = ${derived.expression}, computed from the results above.`;
      body.append(line);
    }
    $("sql-dialog").showModal();
  } catch (err) {
    showError(err);
  }
}

async function download(kind) {
  const state = formState();
  const accept = kind === "csv" ? "text/csv" : "application/vnd.apache.parquet";
  try {
    const blob = await api("/v1/compute", { body: requestOf(state), accept });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `aitaem-${state.metrics.join("-")}.${kind}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) {
    showError(err);
  }
}

async function copyLink() {
  const query = toQuery(formState());
  const url = `${location.origin}${location.pathname}?${query}`;
  try {
    await navigator.clipboard.writeText(url);
    showMessages(["The link to this request is copied."]);
  } catch (_) {
    showMessages([`The link to this request: ${url}`]);
  }
}

// ---- start -----------------------------------------------------------------------------------

async function loadProject() {
  const [openapi, metrics, slices, segments, health] = await Promise.all([
    api("/v1/openapi.json"),
    api("/v1/metrics"),
    api("/v1/slices"),
    api("/v1/segments"),
    api("/healthz"),
  ]);
  project.metrics = metrics.metrics;
  project.slices = slices.slices;
  project.segments = segments.segments;
  const fields = openapi.components.schemas.ComputeRequest.properties;
  project.periods = fields.period.enum;
  project.weekStarts = fields.week_start.enum;
  project.comparisons = fields.compare.enum;
  const counts = health.specs;
  $("server-status").textContent = `${counts.metrics} metrics, ${counts.slices} slices, ${counts.segments} segments` +
    (health.reload_error ? ` · the specs on disk do not load: ${health.reload_error}` : "");
  try {
    project.scan = (await api("/v1/scan", { method: "POST" })).results;
  } catch (err) {
    // Without the scan every slice and segment is offered, and the server judges them.
    project.scan = [];
    showMessages([`Could not check which slices fit which metrics: ${err.message}`]);
  }
}

function fillOptions() {
  const period = $("period");
  period.replaceChildren(new Option("all time (one value)", ""));
  for (const name of project.periods.filter((p) => p !== "all_time")) period.append(new Option(name, name));
  $("week-start").replaceChildren(...project.weekStarts.map((d) => new Option(d, d)));
  setSelect("week-start", "monday");
  const compare = $("compare");
  compare.replaceChildren(new Option("nothing", ""));
  for (const name of project.comparisons) compare.append(new Option(name.replace("_", " "), name));
}

async function start() {
  $("request").addEventListener("submit", (event) => {
    event.preventDefault();
    compute();
  });
  $("cancel").addEventListener("click", () => view.running && view.running.abort());
  $("metric-search").addEventListener("input", filterMetrics);
  $("window").addEventListener("change", showDependentFields);
  $("period").addEventListener("change", showDependentFields);
  $("show-sql").addEventListener("click", showSql);
  $("copy-link").addEventListener("click", copyLink);
  $("sql-close").addEventListener("click", () => $("sql-dialog").close());
  $("download-csv").addEventListener("click", () => download("csv"));
  $("download-parquet").addEventListener("click", () => download("parquet"));
  $("token-save").addEventListener("click", () => {
    sessionStorage.setItem("aitaem-token", $("token").value);
    $("token-box").hidden = true;
    boot();
  });
  window.addEventListener("popstate", () => {
    applyState(fromQuery(location.search));
    if (formState().metrics.length) compute({ push: false });
  });
  await boot();
}

async function boot() {
  try {
    await loadProject();
  } catch (err) {
    showError(err);
    return;
  }
  fillOptions();
  renderMetricChoices();
  const state = fromQuery(location.search);
  applyState(state);
  document.body.dataset.ready = "true";
  if (state.metrics.length) await compute({ push: false });
}

start();
