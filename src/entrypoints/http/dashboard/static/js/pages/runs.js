// Runs: every run, newest first, filtered by model and label; each opens its run page, and two
// picked together open a comparison.

import { getJson } from "../api.js";
import {
  field,
  fmt,
  fmtDuration,
  fmtTime,
  formState,
  h,
  labelChips,
  labelList,
  message,
  navigate,
  pageLink,
  problemMessage,
  seconds,
} from "../dom.js";

export const TITLE = "Runs";
const PAGE_SIZE = 100;

export async function render(view, state) {
  const labels = labelList(state.label);
  view.append(h("h1", {}, "Runs"), filters(state, labels));
  const list = h("section", { "aria-label": "runs" });
  view.append(list);
  const picked = new Set();
  const compareButton = h("button", { type: "button", disabled: true, id: "compare-picked" }, "Compare the two picked");
  compareButton.addEventListener("click", () => {
    const [baseline, candidate] = [...picked];
    navigate("compare", { baseline_label: `run:${baseline}`, candidate_label: `run:${candidate}` });
  });
  const onPick = (run, checked) => {
    if (checked) picked.add(run);
    else picked.delete(run);
    compareButton.disabled = picked.size !== 2;
  };

  let page;
  try {
    page = await getJson("runs", { model: state.model, label: labels, limit: PAGE_SIZE });
  } catch (error) {
    list.append(problemMessage(error, "the runs"));
    return;
  }
  if (page.runs.length === 0) {
    const filtered = state.model || labels.length;
    list.append(
      message(
        "info",
        filtered
          ? "No run matches these filters."
          : "No runs stored yet: a run is the results that carry a run label, as every imported tool file does. " +
              "Import one with `superbenchmark view FILE` or POST /results/import; the Over time page shows results without runs.",
      ),
    );
    return;
  }
  const body = h("tbody");
  const more = h("button", { type: "button", class: "more" }, "Show more runs");
  list.append(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "runs-table" },
        h("caption", {}, "Runs, newest first. Pick two to compare them."),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Pick", "Run", "Tool", "Model", "Results", "Failed", "Last result", "Span", "Labels"].map((text) =>
              h("th", { scope: "col" }, text),
            ),
          ),
        ),
        body,
      ),
    ),
    h("div", { class: "buttons" }, compareButton, more, h("a", { href: pageLink("sweep", state) }, "Sweep of these runs")),
  );
  const append = (runs) => body.append(...runs.map((run) => row(run, onPick)));
  append(page.runs);
  let cursor = page.next_cursor;
  more.hidden = !cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const next = await getJson("runs", { model: state.model, label: labels, limit: PAGE_SIZE, cursor });
      append(next.runs);
      cursor = next.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      list.append(problemMessage(error, "more runs"));
    } finally {
      more.disabled = false;
    }
  });
}

function filters(state, labels) {
  const form = h(
    "form",
    { class: "filters", "aria-label": "filter runs" },
    field("Model", h("input", { id: "runs-model", name: "model", value: state.model || "" })),
    field(
      "Labels",
      h("input", { id: "runs-label", name: "label", value: labels.join(", "), placeholder: "branch:main, gpu:h100" }),
      "key:value, comma-separated; every one must match",
    ),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { model, label } = formState(form);
    navigate("runs", { model, label: labelList(label) });
  });
  return form;
}

function row(run, onPick) {
  const span = seconds(run.last) - seconds(run.first);
  const checkbox = h("input", { type: "checkbox", "aria-label": `pick ${run.run}` });
  checkbox.addEventListener("change", () => onPick(run.run, checkbox.checked));
  return h(
    "tr",
    { "data-run": run.run },
    h("td", {}, checkbox),
    h("th", { scope: "row" }, h("a", { href: pageLink("run", { run: run.run }) }, run.run)),
    h("td", {}, run.tool || "—"),
    h("td", {}, run.model || "—"),
    h("td", { class: "number", "data-value": run.count }, fmt(run.count)),
    h("td", { class: run.failed ? "number bad" : "number", "data-value": run.failed }, fmt(run.failed)),
    h("td", {}, fmtTime(run.last)),
    h("td", { title: `${fmtTime(run.first)} to ${fmtTime(run.last)}` }, fmtDuration(span)),
    h("td", {}, labelChips(run.labels)),
  );
}
