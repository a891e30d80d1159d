// The dashboard's shell: the page named by the URL's hash, the key prompt, the navigation.

import { setKeyPrompt } from "./api.js";
import { h, message } from "./dom.js";
import * as compare from "./pages/compare.js";
import * as run from "./pages/run.js";
import * as runs from "./pages/runs.js";
import * as sweep from "./pages/sweep.js";
import * as trends from "./pages/trends.js";

const PAGES = { runs, run, trends, compare, sweep };
const main = document.getElementById("page");

/** The page and its state from "#/page?key=value&...". */
function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const state = {};
  for (const [name, value] of new URLSearchParams(search)) {
    state[name] = name in state ? [].concat(state[name], value) : value;
  }
  return { page: path || "runs", state };
}

async function show() {
  const { page, state } = route();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each view renders into its own element: a slower earlier view never writes into this one.
  const view = h("div", { class: "view", "data-view": page });
  main.replaceChildren(view);
  const module = PAGES[page];
  if (!module) {
    view.append(h("h1", {}, "Page not found"), message("problem", `There is no page “${page}”.`));
    view.dataset.state = "ready";
    return;
  }
  document.title = `${module.TITLE} · SuperBenchmark`;
  view.dataset.state = "loading";
  try {
    await module.render(view, state);
  } catch (error) {
    view.append(message("problem", `This page failed: ${error.message || error}`));
    console.warn(error);
  } finally {
    view.dataset.state = "ready";
  }
}

// Resolves to the key typed, or null when the reader cancels (the button, or Escape).
function promptForKey(reason) {
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  const cancel = document.getElementById("key-cancel");
  document.getElementById("key-reason").textContent = reason;
  input.value = "";
  return new Promise((resolve) => {
    let key = null;
    const onSubmit = (event) => {
      event.preventDefault();
      key = input.value.trim() || null;
      if (key) dialog.close();
    };
    const onCancel = () => dialog.close();
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", onSubmit);
        cancel.removeEventListener("click", onCancel);
        resolve(key);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

setKeyPrompt(promptForKey);
window.addEventListener("hashchange", show);
show();
