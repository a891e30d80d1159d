// Compare: a candidate beside a baseline (two runs, two windows, or both), the verdict on each
// metric as a table coloured by verdict, and the two sides' CDFs overlaid.

import { getJson } from "../api.js";
import { COLORS, chart, cumulativeShares, joined } from "../charts.js";
import { LATENCIES, METRICS, field, fmt, fmtPercent, formState, h, labelList, message, navigate, problemMessage, table } from "../dom.js";

export const TITLE = "Compare";
const SIDES = ["baseline", "candidate"];
const VERDICTS = {
  regression: { text: "▲ regression", class: "verdict-regression" },
  improvement: { text: "▼ improvement", class: "verdict-improvement" },
  "no significant change": { text: "= no significant change", class: "verdict-same" },
};

export async function render(view, state) {
  view.append(h("h1", {}, "Compare"), form(state));
  const chosen = SIDES.every((side) => ["label", "start", "end", "model"].some((part) => state[`${side}_${part}`]));
  if (!chosen) {
    view.append(
      message("info", "Name a baseline and a candidate: a run (run:NAME), other labels, a model or a window for each side."),
    );
    return;
  }
  const params = { ...state, label: labelList(state.label) };
  for (const side of SIDES) params[`${side}_label`] = labelList(state[`${side}_label`]);
  let comparison;
  try {
    comparison = await getJson("results/compare", params);
  } catch (error) {
    view.append(problemMessage(error, "the comparison"));
    return;
  }
  view.append(verdictTable(comparison));
  const grid = h("div", { class: "grid" });
  view.append(h("section", { "aria-labelledby": "cdf-title" }, h("h2", { id: "cdf-title" }, "Distributions, overlaid"), grid));
  await Promise.all(LATENCIES.map((metric) => overlaidCdf(grid.appendChild(h("div", { class: "slot" })), state, metric)));
}

function form(state) {
  const side = (name) =>
    h(
      "fieldset",
      {},
      h("legend", {}, name === "baseline" ? "Baseline" : "Candidate"),
      field(
        "Labels",
        h("input", { id: `${name}-label`, name: `${name}_label`, value: labelList(state[`${name}_label`]).join(", "), placeholder: "run:NAME" }),
        "key:value, comma-separated",
      ),
      field("From", h("input", { id: `${name}-start`, name: `${name}_start`, value: state[`${name}_start`] || "" }), "date or ISO instant"),
      field("To", h("input", { id: `${name}-end`, name: `${name}_end`, value: state[`${name}_end`] || "" })),
      field("Model", h("input", { id: `${name}-model`, name: `${name}_model`, value: state[`${name}_model`] || "" })),
    );
  const element = h(
    "form",
    { class: "filters sides", "aria-label": "sides to compare" },
    side("baseline"),
    side("candidate"),
    h(
      "fieldset",
      {},
      h("legend", {}, "Both sides"),
      field("Model", h("input", { id: "both-model", name: "model", value: state.model || "" })),
      field("Labels", h("input", { id: "both-label", name: "label", value: labelList(state.label).join(", ") })),
    ),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Compare")),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formState(element);
    for (const name of ["label", "baseline_label", "candidate_label"]) values[name] = labelList(values[name]);
    navigate("compare", values);
  });
  return element;
}

function verdictTable(comparison) {
  const describe = (side) => `${fmt(side.count)} successful, ${fmt(side.failed)} failed`;
  const rows = Object.entries(comparison.metrics).map(([metric, entry]) => {
    const verdict = VERDICTS[entry.verdict] || { text: "n/a", class: "verdict-none" };
    const figure = (side, stat) => ({ text: fmt(entry[side]?.[stat] ?? null), class: "number", "data-value": entry[side]?.[stat] ?? "" });
    return [
      `${METRICS[metric]?.name || metric} (${comparison.units[metric]})`,
      figure("baseline", "mean"),
      figure("candidate", "mean"),
      figure("baseline", "p50"),
      figure("candidate", "p50"),
      figure("baseline", "p99"),
      figure("candidate", "p99"),
      { text: entry.relative_change === null ? "—" : `${entry.relative_change > 0 ? "+" : ""}${fmtPercent(entry.relative_change)}`, class: "number" },
      { text: fmt(entry.p_value), class: "number" },
      { text: verdict.text, class: `verdict ${verdict.class}`, "data-verdict": entry.verdict || "" },
    ];
  });
  return h(
    "section",
    { "aria-labelledby": "verdict-title" },
    h("h2", { id: "verdict-title" }, "Verdicts"),
    h(
      "p",
      { class: "note" },
      `Baseline: ${describe(comparison.baseline)}. Candidate: ${describe(comparison.candidate)}. A verdict needs a change of at least `,
      fmtPercent(comparison.relative_threshold),
      ` of the baseline's mean and p < ${comparison.significance} (Mann–Whitney U). Lower is better for times, higher for throughput.`,
    ),
    table(
      "Baseline against candidate, metric by metric",
      ["Metric (unit)", "Mean, baseline", "Mean, candidate", "p50, baseline", "p50, candidate", "p99, baseline", "p99, candidate", "Change of mean", "p-value", "Verdict"],
      rows,
      { id: "verdict-table" },
    ),
  );
}

function sideSelection(state, side) {
  return {
    start: state[`${side}_start`],
    end: state[`${side}_end`],
    model: state[`${side}_model`] || state.model,
    label: [...labelList(state.label), ...labelList(state[`${side}_label`])],
  };
}

async function overlaidCdf(grid, state, metric) {
  const name = METRICS[metric].name;
  let histograms;
  try {
    histograms = await Promise.all(
      SIDES.map((side) => getJson("results/histogram", { ...sideSelection(state, side), metric, bins: 100 })),
    );
  } catch (error) {
    grid.append(h("figure", { class: "chart", "data-chart": `cdf-${metric}` }, h("figcaption", {}, name), problemMessage(error, `the distributions of ${name}`)));
    return;
  }
  const present = histograms.map((histogram) => (histogram.edges || []).length > 0);
  const pairs = histograms
    .filter((_, i) => present[i])
    .map((histogram) => [histogram.edges, cumulativeShares(histogram.counts).map((share) => share * 100)]);
  const data = pairs.length ? joined(pairs) : [[]];
  const colors = [COLORS.blue, COLORS.orange];
  const dashes = [[], [8, 4]];
  let next = 1;
  chart(grid, {
    name: `cdf-${metric}`,
    title: `${name}: cumulative share, baseline and candidate`,
    description: `CDFs of ${name} in ${histograms[0].unit} for the baseline and the candidate.`,
    empty: `Neither side has a ${name}.`,
    x: { label: `${name} (${histograms[0].unit})`, values: data[0] },
    axes: [{ scale: "share", label: "cumulative share (%)", min: 0, max: 100 }],
    series: SIDES.filter((_, i) => present[i]).map((side) => ({
      label: `${side} (${histograms[SIDES.indexOf(side)].count})`,
      values: data[next++],
      color: colors[SIDES.indexOf(side)],
      dash: dashes[SIDES.indexOf(side)],
      scale: "share",
      spanGaps: true,
    })),
  });
}
