// Over time: p50 / p90 / p99 of one metric over any window, or one line per model or label value,
// with the error rate beneath. Dragging across a chart zooms into that span.

import { getJson } from "../api.js";
import { COLORS, DASHES, PALETTE, chart } from "../charts.js";
import {
  METRICS,
  field,
  fmt,
  fmtPercent,
  fmtTime,
  formState,
  h,
  isoOf,
  labelList,
  message,
  navigate,
  pageLink,
  problemMessage,
  seconds,
  table,
} from "../dom.js";

export const TITLE = "Over time";
const PERCENTILES = [50, 90, 99];
const PERCENTILE_STYLE = {
  50: { color: COLORS.blue, dash: [] },
  90: { color: COLORS.orange, dash: [8, 4] },
  99: { color: COLORS.vermillion, dash: [2, 3] },
};
const BUCKETS = ["auto", "1m", "5m", "15m", "1h", "1d", "7d"];

export async function render(view, state) {
  view.append(h("h1", {}, "Over time"));
  const current = { metric: "time_to_first_token", bucket: "auto", ...state };
  if (!METRICS[current.metric]) current.metric = "time_to_first_token";
  if (!current.start || !current.end) {
    try {
      Object.assign(current, await defaultWindow(current));
    } catch (error) {
      view.append(problemMessage(error, "the stored results' time span"));
      return;
    }
    // The link now names the window shown, so that it shows the same view later and elsewhere.
    history.replaceState(null, "", pageLink("trends", current));
  }
  view.append(controls(current));
  const labels = labelList(current.label);
  const grouped = Boolean(current.group_by);
  const percentile = PERCENTILES.includes(Number(current.percentile)) ? Number(current.percentile) : 50;
  let series;
  try {
    series = await getJson("results/timeseries", {
      start: current.start,
      end: current.end,
      bucket: current.bucket,
      metric: current.metric,
      group_by: current.group_by,
      percentiles: PERCENTILES.join(","),
      model: current.model,
      label: labels,
    });
  } catch (error) {
    view.append(problemMessage(error, "the time series"));
    return;
  }
  const unit = series.units[current.metric];
  const name = METRICS[current.metric].name;
  const xs = (series.series[0]?.buckets || []).map((bucket) => seconds(bucket.start));
  const zoom = (min, max) => navigate("trends", { ...current, start: isoOf(Math.floor(min)), end: isoOf(Math.ceil(max)) });
  const total = series.series.reduce((sum, one) => sum + one.buckets.reduce((n, b) => n + b.count + (b.failed || 0), 0), 0);
  view.append(
    h(
      "p",
      { class: "note", id: "trends-summary" },
      `${fmtTime(series.selection.start)} to ${fmtTime(series.selection.end)}, buckets of ${series.bucket}, `,
      h("span", { "data-cell": "total", "data-value": total }, fmt(total)),
      " requests. Drag across a chart to zoom in.",
    ),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", onclick: () => zoomOut(current) }, "Zoom out"),
    ),
  );
  const valueOf = (bucket, q) => bucket.metrics[current.metric]?.[`p${q}`] ?? null;
  const lines = grouped
    ? series.series.map((one, i) => ({
        label: `${groupName(one.group)} p${percentile}`,
        values: one.buckets.map((bucket) => valueOf(bucket, percentile)),
        color: PALETTE[i % PALETTE.length],
        dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length],
      }))
    : PERCENTILES.map((q) => ({
        label: `p${q}`,
        values: (series.series[0]?.buckets || []).map((bucket) => valueOf(bucket, q)),
        ...PERCENTILE_STYLE[q],
      }));
  const charts = h("div", { class: "stack" });
  view.append(charts);
  chart(charts, {
    name: "trend-percentiles",
    title: grouped ? `${name}: p${percentile} per ${current.group_by}` : `${name}: p50, p90 and p99`,
    description: `${name} percentiles in ${unit} per bucket of ${series.bucket}.`,
    empty: "No successful result in this window: widen it or change the filters.",
    x: { label: "time (UTC)", time: true, values: xs },
    axes: [{ scale: "y", label: `${name} (${unit})` }],
    series: lines.map((line) => ({ ...line, scale: "y" })),
    onSelect: zoom,
    sync: "trends",
  });
  chart(charts, {
    name: "trend-error-rate",
    title: "Error rate",
    description: `Failed requests as a share of all requests per bucket of ${series.bucket}.`,
    empty: "No request in this window.",
    x: { label: "time (UTC)", time: true, values: xs },
    axes: [{ scale: "rate", label: "error rate (%)", min: 0, max: 100 }],
    series: series.series.map((one, i) => ({
      label: grouped ? `${groupName(one.group)} error rate (%)` : "error rate (%)",
      values: one.buckets.map((bucket) => (bucket.count + (bucket.failed || 0) ? (bucket.error_rate ?? 0) * 100 : null)),
      color: grouped ? PALETTE[i % PALETTE.length] : COLORS.vermillion,
      dash: grouped ? DASHES[Math.floor(i / PALETTE.length) % DASHES.length] : [],
      scale: "rate",
    })),
    onSelect: zoom,
    sync: "trends",
  });
  view.append(dataTable(series, current.metric, unit));
}

async function defaultWindow(state) {
  const oldest = await getJson("results", { model: state.model, limit: 1 });
  const start = oldest.results[0] ? oldest.results[0].timestamp.slice(0, 10) : isoOf(Date.now() / 1000 - 7 * 86400);
  return { start: state.start || start, end: state.end || isoOf(Math.ceil(Date.now() / 1000)) };
}

function zoomOut(state) {
  const start = seconds(normalised(state.start, false));
  const end = seconds(normalised(state.end, true));
  const half = Math.max(end - start, 60);
  navigate("trends", { ...state, start: isoOf(Math.floor(start - half / 2)), end: isoOf(Math.ceil(end + half / 2)) });
}

// A bound typed as a date means the start or the end of that day (UTC), as the API reads it.
function normalised(bound, isEnd) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(bound)) return `${bound}T${isEnd ? "23:59:59" : "00:00:00"}Z`;
  return /[zZ]|[+-]\d\d:?\d\d$/.test(bound) ? bound : `${bound}Z`;
}

function groupName(group) {
  return group === null ? "(none)" : String(group);
}

function controls(state) {
  const metric = h(
    "select",
    { id: "trend-metric", name: "metric" },
    Object.entries(METRICS).map(([value, { name }]) => h("option", { value, selected: value === state.metric }, name)),
  );
  const bucket = h(
    "select",
    { id: "trend-bucket", name: "bucket" },
    BUCKETS.map((value) => h("option", { value, selected: value === state.bucket }, value)),
    BUCKETS.includes(state.bucket) ? null : h("option", { value: state.bucket, selected: true }, state.bucket),
  );
  const percentile = h(
    "select",
    { id: "trend-percentile", name: "percentile" },
    PERCENTILES.map((q) => h("option", { value: q, selected: String(q) === String(state.percentile || 50) }, `p${q}`)),
  );
  const form = h(
    "form",
    { class: "filters", "aria-label": "window and metric" },
    field("From", h("input", { id: "trend-start", name: "start", value: state.start, required: true }), "2024-06-01 or an ISO instant (UTC)"),
    field("To", h("input", { id: "trend-end", name: "end", value: state.end, required: true }), "included"),
    field("Metric", metric),
    field("Bucket", bucket),
    field("Group by", h("input", { id: "trend-group", name: "group_by", value: state.group_by || "", placeholder: "model or label:gpu" })),
    field("Percentile when grouped", percentile),
    field("Model", h("input", { id: "trend-model", name: "model", value: state.model || "" })),
    field("Labels", h("input", { id: "trend-label", name: "label", value: labelList(state.label).join(", "), placeholder: "run:a" })),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formState(form);
    navigate("trends", { ...values, label: labelList(values.label) });
  });
  return form;
}

function dataTable(series, metric, unit) {
  const rows = [];
  for (const one of series.series) {
    for (const bucket of one.buckets) {
      if (!bucket.count && !bucket.failed) continue;
      const figures = bucket.metrics[metric];
      rows.push([
        fmtTime(bucket.start),
        groupName(one.group),
        fmt(bucket.count),
        fmt(bucket.failed || 0),
        fmtPercent(bucket.error_rate),
        ...PERCENTILES.map((q) => ({ text: fmt(figures?.[`p${q}`] ?? null), class: "number", "data-value": figures?.[`p${q}`] ?? "" })),
      ]);
    }
  }
  return h(
    "details",
    { class: "data" },
    h("summary", {}, `Data table (${rows.length} buckets with requests)`),
    rows.length
      ? table(
          `${METRICS[metric].name} per bucket (${unit}); empty buckets left out`,
          ["Bucket start", "Group", "Successful", "Failed", "Error rate", "p50", "p90", "p99"],
          rows,
          { id: "trend-table" },
        )
      : message("info", "No bucket holds a request."),
  );
}
