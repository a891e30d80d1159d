// The one place that knows the chart library (uPlot, vendored, loaded as a classic script).
// A chart is a <figure> with a caption and units on every axis; with no value to draw it is a
// message instead, never a blank frame. Once drawn, the figure's data-drawn holds the number of
// points drawn, and data-values the series' values as JSON (up to 10,000 points), so the page can
// be checked.

import { h, message } from "./dom.js";

const uPlot = window.uPlot;

// Okabe–Ito: eight colours that readers with any common colour-vision deficiency tell apart.
export const COLORS = {
  blue: "#0072B2",
  orange: "#E69F00",
  green: "#009E73",
  vermillion: "#D55E00",
  purple: "#CC79A7",
  sky: "#56B4E9",
  yellow: "#F0E442",
  black: "#000000",
};
export const PALETTE = [
  COLORS.blue,
  COLORS.orange,
  COLORS.green,
  COLORS.vermillion,
  COLORS.purple,
  COLORS.sky,
  COLORS.black,
  COLORS.yellow,
];
// Dashes tell series apart where colour alone would not (print, a projector, many groups).
export const DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3]];

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

/**
 * Draw a chart into `parent` and return the figure.
 *
 * options: name (data-chart), title, description (the figure's text alternative), empty (the
 * message when there is nothing to draw), x: {label, time, log, values}, axes: [{scale, label,
 * side, log, min, max}], series: [{label, values, color, dash, scale, kind: "line" | "points" |
 * "histogram"}], pointLabels: {series, texts}, onSelect(min, max), sync (a key shared by charts
 * whose cursors move together).
 */
export function chart(parent, options) {
  const figure = h(
    "figure",
    { class: "chart", "data-chart": options.name },
    h("figcaption", {}, options.title),
  );
  parent.append(figure);
  const drawn = options.series.reduce(
    (total, series) => total + series.values.filter((value) => value !== null && Number.isFinite(value)).length,
    0,
  );
  if (drawn === 0 || options.x.values.length === 0) {
    figure.append(message("info", options.empty || "No data to draw for this view."));
    figure.dataset.drawn = "0";
    return figure;
  }
  const holder = h("div", { class: "plot", role: "img", "aria-label": options.description || options.title });
  figure.append(holder);
  const plot = new uPlot(settings(options, holder, figure, drawn), data(options), holder);
  let width = holder.clientWidth;
  new ResizeObserver(() => {
    if (holder.clientWidth === width) return;
    width = holder.clientWidth;
    plot.setSize(size(holder));
  }).observe(holder);
  return figure;
}

function data(options) {
  return [options.x.values, ...options.series.map((series) => series.values)];
}

function size(holder) {
  const width = Math.max(holder.clientWidth, 260);
  return { width, height: width < 500 ? 220 : 300 };
}

function settings(options, holder, figure, drawn) {
  const scales = { x: { time: Boolean(options.x.time) } };
  if (options.x.log) scales.x.distr = 3;
  for (const axis of options.axes) {
    scales[axis.scale] = { auto: true, ...(axis.log ? { distr: 3 } : {}) };
    if (axis.min !== undefined || axis.max !== undefined) {
      scales[axis.scale] = { auto: false, range: [axis.min ?? 0, axis.max ?? 1] };
    }
  }
  return {
    ...size(holder),
    tzDate: utc,
    scales,
    cursor: {
      drag: { x: Boolean(options.onSelect), y: false, setScale: false },
      ...(options.sync ? { sync: { key: options.sync } } : {}),
    },
    legend: { live: true },
    axes: [
      { label: options.x.label, labelSize: 24, stroke: "#222", grid: { stroke: "#e4e4e4" } },
      ...options.axes.map((axis) => ({
        scale: axis.scale,
        label: axis.label,
        labelSize: 24,
        side: axis.side ?? 3,
        stroke: "#222",
        grid: { show: (axis.side ?? 3) === 3, stroke: "#e4e4e4" },
        size: 60,
      })),
    ],
    series: [{ label: options.x.label }, ...options.series.map(seriesSettings)],
    hooks: {
      draw: [
        (u) => {
          if (options.pointLabels) drawPointLabels(u, options.pointLabels);
          figure.dataset.drawn = String(drawn);
          figure.dataset.xs = String(options.x.values.length);
          // Small charts only: a scatter of 100,000 requests is checked by its count.
          if (drawn <= 10000) figure.dataset.values = JSON.stringify(options.series.map((series) => series.values));
        },
      ],
      setSelect: [
        (u) => {
          if (!options.onSelect || u.select.width < 4) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          options.onSelect(min, max);
        },
      ],
    },
  };
}

function seriesSettings(series) {
  const common = { label: series.label, scale: series.scale || "y", stroke: series.color, spanGaps: Boolean(series.spanGaps) };
  if (series.kind === "points") {
    return {
      ...common,
      paths: () => null,
      points: { show: true, size: 3, space: 0, stroke: series.color, fill: series.color, width: 0 },
    };
  }
  if (series.kind === "histogram") {
    return { ...common, fill: `${series.color}99`, width: 1, paths: histogramPaths, points: { show: false } };
  }
  // Points mark each value where they are few enough to tell apart (a lone bucket among empty ones).
  const few = series.values.length <= 60;
  return { ...common, width: 2, dash: series.dash || [], points: { show: few, size: 6, fill: series.color } };
}

// Bars between consecutive x values: bar i spans x[i] to x[i+1] (a histogram's bin edges).
function histogramPaths(u, seriesIndex, first, last) {
  const xs = u.data[0];
  const ys = u.data[seriesIndex];
  const scale = u.series[seriesIndex].scale;
  const bars = new Path2D();
  const bottom = u.valToPos(0, scale, true);
  for (let i = first; i < Math.min(last, xs.length - 1); i++) {
    if (ys[i] === null || ys[i] === 0) continue;
    const left = u.valToPos(xs[i], "x", true);
    const right = u.valToPos(xs[i + 1], "x", true);
    const top = u.valToPos(ys[i], scale, true);
    bars.rect(left, top, Math.max(right - left - 1, 1), bottom - top);
  }
  return { stroke: bars, fill: bars };
}

function drawPointLabels(u, { series, texts }) {
  const { ctx } = u;
  ctx.save();
  ctx.font = `${Math.round(12 * devicePixelRatio)}px system-ui, sans-serif`;
  ctx.fillStyle = "#222";
  ctx.textAlign = "left";
  const ys = u.data[series];
  for (let i = 0; i < texts.length; i++) {
    if (ys[i] === null) continue;
    const x = u.valToPos(u.data[0][i], "x", true);
    const y = u.valToPos(ys[i], u.series[series].scale, true);
    // Near the right edge a label goes to the left of its point, so that it is not cut off.
    const right = x + ctx.measureText(texts[i]).width + 8 * devicePixelRatio > u.bbox.left + u.bbox.width;
    ctx.textAlign = right ? "right" : "left";
    ctx.fillText(texts[i], x + (right ? -6 : 6) * devicePixelRatio, y - 6 * devicePixelRatio);
  }
  ctx.restore();
}

/** Series with their own x values on one shared, sorted x (missing values null), as charts need. */
export function joined(pairs) {
  return uPlot.join(pairs.map(([xs, ys]) => [xs, ys]));
}

/** The cumulative share (0 to 1) at each histogram edge: 0 at the first, 1 at the last. */
export function cumulativeShares(counts) {
  const total = counts.reduce((sum, count) => sum + count, 0);
  const shares = [0];
  let running = 0;
  for (const count of counts) {
    running += count;
    shares.push(total ? running / total : null);
  }
  return shares;
}
