// Small shared helpers: building elements, formatting numbers and times, the page's URL state.

export const METRICS = {
  time_to_first_token: { name: "TTFT", long: "Time to first token" },
  time_per_output_token: { name: "TPOT", long: "Time per output token" },
  total_generation_time: { name: "End-to-end", long: "End-to-end latency" },
  output_throughput: { name: "Output throughput", long: "Output throughput per request" },
  token_count: { name: "Output tokens", long: "Output tokens per request" },
  prompt_token_count: { name: "Input tokens", long: "Input tokens per request" },
};
export const LATENCIES = ["time_to_first_token", "time_per_output_token", "total_generation_time"];

/** An element: h("a", {href: "#"}, "text", child...). Attributes starting with "on" are listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A message in place of data: "info" (nothing to show), "problem" (a failure) or "loading". */
export function message(kind, text) {
  return h("p", { class: `message ${kind}`, role: kind === "problem" ? "alert" : "status" }, text);
}

/** The message for a failed request, with what to do about it where that is known. */
export function problemMessage(error, what) {
  const advice = {
    0: "Check that the server is running and reachable.",
    401: "Reload the page to type a key.",
    503: "The server's store is not available; try again when it is.",
  }[error.status];
  return message("problem", `Could not load ${what}. ${error.message || error}${advice ? ` ${advice}` : ""}`);
}

const SIGNIFICANT = new Intl.NumberFormat("en", { maximumSignificantDigits: 4 });
const WHOLE = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

/** A number as shown: 4 significant digits, whole numbers from 1000 on; null as an em dash. */
export function fmt(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(3);
  return Math.abs(value) >= 1000 ? WHOLE.format(value) : SIGNIFICANT.format(value);
}

export function fmtPercent(share) {
  return share === null || share === undefined ? "—" : `${fmt(share * 100)}%`;
}

/** An ISO instant as "2024-06-01 12:00:00 UTC". */
export function fmtTime(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

/** A duration in seconds as "1.5 s", "12 min", "3.2 h" or "2.1 d". */
export function fmtDuration(seconds) {
  if (seconds < 120) return `${fmt(seconds)} s`;
  if (seconds < 7200) return `${fmt(seconds / 60)} min`;
  if (seconds < 172800) return `${fmt(seconds / 3600)} h`;
  return `${fmt(seconds / 86400)} d`;
}

export function seconds(iso) {
  return Date.parse(iso) / 1000;
}

export function isoOf(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().replace(".000Z", "Z");
}

/** A table with a caption, column headers and rows of cells (strings, nodes or {text, ...attributes}). */
export function table(caption, headers, rows, attributes = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attributes,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text, i) => h("th", { scope: "col", class: numeric(rows[0]?.[i]) }, text)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map(cell)))),
    ),
  );
}

// A column of numbers is aligned right, its header too.
function numeric(content) {
  return content && typeof content === "object" && content.class?.includes("number") ? "number" : null;
}

function cell(content, index) {
  const tag = index === 0 ? "th" : "td";
  if (content && typeof content === "object" && !(content instanceof Node)) {
    const { text, ...attributes } = content;
    return h(tag, index === 0 ? { scope: "row", ...attributes } : attributes, text);
  }
  return h(tag, index === 0 ? { scope: "row" } : {}, content);
}

/** A labelled form control: field("Model", h("input", {...})). The control needs an id. */
export function field(label, control, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("small", { class: "hint" }, hint) : null,
  );
}

/** The labels of a run as "key=value" chips. */
export function labelChips(labels) {
  return h(
    "ul",
    { class: "chips", "aria-label": "labels" },
    Object.entries(labels || {}).map(([key, value]) => h("li", {}, `${key}=${value}`)),
  );
}

/** A link to a page of the dashboard with this state. */
export function pageLink(page, state) {
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") qs.append(name, String(item));
    }
  }
  const search = qs.toString();
  return `#/${page}${search ? `?${search}` : ""}`;
}

/** Go to a page with this state: the URL holds it, so the link shows the same view to anyone. */
export function navigate(page, state) {
  const target = pageLink(page, state);
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** The values of a form's named controls, empty ones left out; repeated names become arrays. */
export function formState(form) {
  const state = {};
  for (const [name, value] of new FormData(form)) {
    const text = String(value).trim();
    if (!text) continue;
    if (name in state) state[name] = [].concat(state[name], text);
    else state[name] = text;
  }
  return state;
}

/** Label filters typed as "k:v, k2:v2" (or repeated in the URL) as a list. */
export function labelList(value) {
  return []
    .concat(value || [])
    .flatMap((text) => text.split(","))
    .map((text) => text.trim())
    .filter(Boolean);
}
