// One run: its headline figures, the distributions of its latencies, its requests over time and
// its goodput for the SLOs typed in.

import { getJson } from "../api.js";
import { COLORS, chart, cumulativeShares } from "../charts.js";
import {
  LATENCIES,
  METRICS,
  field,
  fmt,
  fmtDuration,
  fmtPercent,
  fmtTime,
  formState,
  h,
  labelChips,
  message,
  navigate,
  pageLink,
  problemMessage,
  seconds,
  table,
} from "../dom.js";

export const TITLE = "Run";
const PERCENTILES = [50, 90, 99];
const SLOS = { slo_ttft_ms: "TTFT", slo_tpot_ms: "TPOT", slo_e2e_ms: "End-to-end" };
const HEADLINE = ["time_to_first_token", "time_per_output_token", "total_generation_time", "output_throughput", "token_count", "prompt_token_count"];
const MAX_REQUESTS = 100000;
const PAGE = 1000;

export async function render(view, state) {
  if (!state.run) {
    view.append(h("h1", {}, "Run"), message("info", "No run named: pick one on the Runs page."));
    return;
  }
  const scale = state.scale === "log" ? "log" : "linear";
  view.append(h("h1", {}, "Run ", h("span", { class: "name" }, state.run)));
  let found;
  try {
    found = await getJson("runs", { label: `run:${state.run}`, limit: 1 });
  } catch (error) {
    view.append(problemMessage(error, "the run"));
    return;
  }
  const run = found.runs[0];
  if (!run) {
    view.append(message("problem", `Unknown run “${state.run}”: no stored result carries the label run:${state.run}.`));
    return;
  }
  view.append(summary(run));
  const headline = h("section", { "aria-labelledby": "headline-title" }, h("h2", { id: "headline-title" }, "Headline"));
  const distributions = h(
    "section",
    { "aria-labelledby": "distribution-title" },
    h("h2", { id: "distribution-title" }, "Distributions"),
    scaleSwitch(state, scale),
  );
  const overTime = h("section", { "aria-labelledby": "time-title" }, h("h2", { id: "time-title" }, "Requests over time"));
  const goodput = h("section", { "aria-labelledby": "goodput-title" }, h("h2", { id: "goodput-title" }, "Goodput"));
  const grid = h("div", { class: "grid" });
  distributions.append(grid);
  view.append(headline, goodput, distributions, overTime);
  await Promise.all([
    headlineTable(headline, goodput, state, run),
    ...LATENCIES.map((metric) => distribution(grid.appendChild(h("div", { class: "slot" })), run, metric, scale)),
    requestsOverTime(overTime, run),
  ]);
}

function summary(run) {
  const span = seconds(run.last) - seconds(run.first);
  return h(
    "dl",
    { class: "facts" },
    fact("Tool", run.tool || "—"),
    fact("Model", run.model || "—"),
    fact("First result", fmtTime(run.first)),
    fact("Last result", fmtTime(run.last)),
    fact("Span", fmtDuration(span)),
    h("div", {}, h("dt", {}, "Labels"), h("dd", {}, labelChips(run.labels))),
    h(
      "div",
      {},
      h("dt", {}, "See also"),
      h(
        "dd",
        {},
        h("a", { href: pageLink("compare", { baseline_label: `run:${run.run}` }) }, "Compare with…"),
        " · ",
        h("a", { href: pageLink("trends", { start: run.first, end: run.last, label: `run:${run.run}` }) }, "Over time"),
      ),
    ),
  );
}

function fact(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}

function scaleSwitch(state, scale) {
  const select = h(
    "select",
    { id: "distribution-scale" },
    h("option", { value: "linear", selected: scale === "linear" }, "linear bins"),
    h("option", { value: "log", selected: scale === "log" }, "logarithmic bins"),
  );
  select.addEventListener("change", () => navigate("run", { ...state, scale: select.value === "log" ? "log" : "" }));
  return h("form", { class: "filters", "aria-label": "distribution bins", onsubmit: (event) => event.preventDefault() }, field("Bins", select));
}

async function headlineTable(section, goodputSection, state, run) {
  const slos = Object.fromEntries(Object.keys(SLOS).map((name) => [name, state[name]]));
  let stats;
  try {
    stats = await getJson("results/stats", { label: `run:${run.run}`, percentiles: PERCENTILES.join(","), ...slos });
  } catch (error) {
    section.append(problemMessage(error, "the run's statistics"));
    goodputSection.append(sloForm(state));
    return;
  }
  const group = stats.groups[0];
  if (!group) {
    section.append(message("info", "This run has no results in the store any more."));
    return;
  }
  section.append(
    h(
      "dl",
      { class: "facts headline-counts" },
      h("div", {}, h("dt", {}, "Successful"), h("dd", { "data-cell": "count", "data-value": group.count }, fmt(group.count))),
      h("div", {}, h("dt", {}, "Failed"), h("dd", { "data-cell": "failed", "data-value": group.failed }, fmt(group.failed))),
      h(
        "div",
        {},
        h("dt", {}, "Error rate"),
        h("dd", { "data-cell": "error_rate", "data-value": group.error_rate }, fmtPercent(group.error_rate)),
      ),
    ),
  );
  const rows = HEADLINE.map((metric) => {
    const figures = group.metrics[metric];
    const cell = (stat) => ({
      text: fmt(figures ? figures[stat] : null),
      class: "number",
      "data-cell": `${metric}.${stat}`,
      "data-value": figures ? figures[stat] : "",
    });
    return [
      `${METRICS[metric].name} (${stats.units[metric]})`,
      cell("count"),
      cell("mean"),
      ...PERCENTILES.map((q) => cell(`p${q}`)),
    ];
  });
  section.append(
    table(
      "Over the run's successful requests; a metric a request lacks (TTFT of a non-streaming request) is left out of it.",
      ["Metric (unit)", "Requests with it", "Mean", "p50", "p90", "p99"],
      rows,
      { id: "headline-table" },
    ),
  );
  goodputSection.append(sloForm(state), goodputFigures(group, stats));
}

function sloForm(state) {
  const form = h(
    "form",
    { class: "filters", "aria-label": "service level objectives" },
    ...Object.entries(SLOS).map(([name, label]) =>
      field(
        `${label} at most (ms)`,
        h("input", { id: `goodput-${name}`, name, type: "number", min: "0", step: "any", value: state[name] || "" }),
      ),
    ),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Count goodput")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("run", { run: state.run, scale: state.scale, ...formState(form) });
  });
  return form;
}

function goodputFigures(group, stats) {
  if (!group.goodput) {
    return message("info", "Type one or more bounds to count the requests that meet every one of them.");
  }
  const bounds = Object.entries(stats.slo || {})
    .map(([metric, bound]) => `${METRICS[metric].name} ≤ ${fmt(bound)} ms`)
    .join(", ");
  return h(
    "p",
    { class: "goodput", id: "goodput-result" },
    h("strong", { "data-cell": "goodput.count", "data-value": group.goodput.count }, fmt(group.goodput.count)),
    ` of ${fmt(group.count + group.failed)} requests (`,
    h("strong", { "data-cell": "goodput.share", "data-value": group.goodput.share }, fmtPercent(group.goodput.share)),
    `) succeeded with ${bounds}.`,
  );
}

async function distribution(grid, run, metric, scale) {
  const name = METRICS[metric].name;
  let histogram;
  try {
    histogram = await getJson("results/histogram", { label: `run:${run.run}`, metric, bins: 50, scale });
  } catch (error) {
    grid.append(h("figure", { class: "chart", "data-chart": `histogram-${metric}` }, h("figcaption", {}, name), problemMessage(error, `the distribution of ${name}`)));
    return;
  }
  const edges = histogram.edges || [];
  chart(grid, {
    name: `histogram-${metric}`,
    title: `${name}: histogram and CDF (${histogram.count} requests)`,
    description: `Histogram of ${name} in ${histogram.unit} over ${histogram.count} requests, with its cumulative share.`,
    empty: `No successful request of this run has a ${name}.`,
    x: { label: `${name} (${histogram.unit})`, values: edges, log: scale === "log" },
    axes: [
      { scale: "count", label: "requests" },
      { scale: "share", label: "cumulative share (%)", side: 1, min: 0, max: 100 },
    ],
    series: [
      { label: "requests", values: [...histogram.counts, null], color: COLORS.blue, scale: "count", kind: "histogram" },
      {
        label: "CDF (%)",
        values: edges.length ? cumulativeShares(histogram.counts).map((share) => share * 100) : [],
        color: COLORS.vermillion,
        scale: "share",
      },
    ],
  });
}

// Every request of the run, from GET /results over the run's span (kept when labelled this run).
async function requestsOverTime(section, run) {
  const status = message("loading", "Loading the run's requests…");
  section.append(status);
  const requests = [];
  let cursor = null;
  try {
    do {
      // The store selects the run's own results: other runs in the same span are never sent.
      const page = await getJson("results", { start: run.first, end: run.last, label: `run:${run.run}`, limit: PAGE, cursor });
      requests.push(...page.results);
      cursor = page.next_cursor;
      status.textContent = `Loading the run's requests… ${requests.length}`;
    } while (cursor && requests.length < MAX_REQUESTS);
  } catch (error) {
    status.replaceWith(problemMessage(error, "the run's requests"));
    return;
  }
  const shown = requests.slice(0, MAX_REQUESTS);
  status.replaceWith(
    message(
      "info",
      shown.length < requests.length || cursor
        ? `The first ${fmt(shown.length)} requests are drawn.`
        : `${fmt(shown.length)} requests: each point is one request at its timestamp; hover over the chart to read them in the legend.`,
    ),
  );
  const times = shown.map((result) => seconds(result.timestamp));
  const ok = (metric) => shown.map((result) => (result.error ? null : result[metric] ?? null));
  chart(section, {
    name: "requests-over-time",
    title: "Latency of each request over the run",
    description:
      `End-to-end latency and TTFT of each of ${shown.length} requests against time; ` +
      "failed requests are marked in vermillion on their own axis, since they have no latency to show.",
    empty: "This run has no request to draw.",
    x: { label: "time (UTC)", time: true, values: times },
    // A failed request's latency is no measurement (tools write 0 for it): it is marked on a
    // separate axis at its instant, never drawn among the latencies.
    axes: [
      { scale: "ms", label: "latency (ms)" },
      { scale: "failed", label: "failed request", side: 1, min: 0, max: 2 },
    ],
    series: [
      { label: "end-to-end (ms)", values: ok("total_generation_time"), color: COLORS.blue, scale: "ms", kind: "points" },
      { label: "TTFT (ms)", values: ok("time_to_first_token"), color: COLORS.orange, scale: "ms", kind: "points" },
      {
        label: "failed",
        values: shown.map((result) => (result.error ? 1 : null)),
        color: COLORS.vermillion,
        scale: "failed",
        kind: "points",
      },
    ],
  });
}
