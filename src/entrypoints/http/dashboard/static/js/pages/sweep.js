// Sweep: runs that differ in one label (concurrency, request rate) as a latency–throughput curve,
// p50 and p99 of TTFT, TPOT and end-to-end against the output throughput each setting reached.

import { getJson } from "../api.js";
import { COLORS, chart } from "../charts.js";
import { LATENCIES, METRICS, field, fmt, formState, h, labelList, message, navigate, problemMessage, seconds, table } from "../dom.js";

export const TITLE = "Sweep";
const PREFERRED = ["max_concurrency", "concurrency", "request_rate", "rate", "qps"];
const IGNORED = new Set(["run"]);

export async function render(view, state) {
  const labels = labelList(state.label);
  view.append(h("h1", {}, "Sweep"));
  let runs;
  try {
    runs = (await getJson("runs", { model: state.model, label: labels, limit: 1000 })).runs;
  } catch (error) {
    view.append(form(state, []), problemMessage(error, "the runs"));
    return;
  }
  const keys = varyingKeys(runs);
  const by = keys.includes(state.by) ? state.by : PREFERRED.find((key) => keys.includes(key)) || keys[0];
  view.append(form({ ...state, by }, keys));
  if (!by) {
    view.append(
      message(
        "info",
        runs.length
          ? "These runs differ in no label: import runs that differ in one setting (concurrency, request rate), or narrow the filters."
          : "No runs match: a sweep needs several runs that differ in one label.",
      ),
    );
    return;
  }
  const swept = runs.filter((run) => run.labels && by in run.labels);
  const start = swept.map((run) => run.first).sort()[0];
  const end = swept.map((run) => run.last).sort().at(-1);
  let stats;
  try {
    stats = await getJson("results/stats", {
      start,
      end,
      model: state.model,
      label: labels,
      group_by: `label:${by}`,
      percentiles: "50,99",
    });
  } catch (error) {
    view.append(problemMessage(error, "the statistics per setting"));
    return;
  }
  const points = stats.groups
    .filter((group) => group.group !== null && group.count > 0)
    .map((group) => point(group, swept.filter((run) => run.labels[by] === group.group)))
    .sort((a, b) => (a.throughput ?? Infinity) - (b.throughput ?? Infinity));
  view.append(
    h(
      "p",
      { class: "note" },
      `${points.length} settings of ${by} over ${swept.length} runs. Output throughput is the tokens the setting's runs generated over their time span (first to last result), in tokens/s.`,
    ),
  );
  const drawable = points.filter((p) => p.throughput !== null);
  const grid = h("div", { class: "grid" });
  view.append(grid);
  for (const metric of LATENCIES) {
    const name = METRICS[metric].name;
    chart(grid, {
      name: `sweep-${metric}`,
      title: `${name} against output throughput (points labelled with ${by})`,
      description: `p50 and p99 of ${name} in ms at each setting of ${by}, against the output throughput it reached.`,
      empty: "No setting has both a throughput and this latency.",
      x: { label: "output throughput (tokens/s)", values: drawable.map((p) => p.throughput) },
      axes: [{ scale: "ms", label: `${name} (ms)` }],
      series: [
        { label: "p50 (ms)", values: drawable.map((p) => p.metrics[metric]?.p50 ?? null), color: COLORS.blue, scale: "ms" },
        { label: "p99 (ms)", values: drawable.map((p) => p.metrics[metric]?.p99 ?? null), color: COLORS.vermillion, dash: [8, 4], scale: "ms" },
      ],
      pointLabels: { series: 2, texts: drawable.map((p) => String(p.value)) },
    });
  }
  view.append(pointTable(points, by));
}

/** Label keys (but `run`) whose values differ among the runs, the most often present first. */
function varyingKeys(runs) {
  const values = new Map();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.labels || {})) {
      if (IGNORED.has(key)) continue;
      if (!values.has(key)) values.set(key, { seen: 0, distinct: new Set() });
      values.get(key).seen += 1;
      values.get(key).distinct.add(value);
    }
  }
  return [...values.entries()]
    .filter(([, { distinct }]) => distinct.size > 1)
    .sort((a, b) => b[1].seen - a[1].seen || a[0].localeCompare(b[0]))
    .map(([key]) => key);
}

function point(group, runs) {
  const span = runs.reduce((sum, run) => sum + (seconds(run.last) - seconds(run.first)), 0);
  const tokens = group.metrics.token_count ? group.metrics.token_count.mean * group.metrics.token_count.count : null;
  return {
    value: group.group,
    runs: runs.length,
    count: group.count,
    failed: group.failed,
    throughput: span > 0 && tokens !== null ? tokens / span : null,
    metrics: group.metrics,
  };
}

function form(state, keys) {
  const by = h(
    "select",
    { id: "sweep-by", name: "by" },
    keys.map((key) => h("option", { value: key, selected: key === state.by }, key)),
  );
  const element = h(
    "form",
    { class: "filters", "aria-label": "runs to sweep" },
    field("Label that varies", by),
    field("Model", h("input", { id: "sweep-model", name: "model", value: state.model || "" })),
    field("Labels", h("input", { id: "sweep-label", name: "label", value: labelList(state.label).join(", ") }), "shared by the runs, key:value"),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Show")),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formState(element);
    navigate("sweep", { ...values, label: labelList(values.label) });
  });
  return element;
}

function pointTable(points, by) {
  const cell = (value) => ({ text: fmt(value), class: "number", "data-value": value ?? "" });
  return table(
    `Each setting of ${by}, by output throughput; latencies in ms`,
    [by, "Runs", "Successful", "Failed", "Output throughput (tokens/s)", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "End-to-end p50", "End-to-end p99"],
    points.map((p) => [
      { text: p.value, "data-value": p.value },
      cell(p.runs),
      cell(p.count),
      cell(p.failed),
      cell(p.throughput),
      ...LATENCIES.flatMap((metric) => [cell(p.metrics[metric]?.p50 ?? null), cell(p.metrics[metric]?.p99 ?? null)]),
    ]),
    { id: "sweep-table" },
  );
}
