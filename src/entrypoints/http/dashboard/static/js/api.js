// The public JSON API, read with the tab's API key (if the server asks for one).
// Every failure becomes a Problem whose message can be shown as it is.

const KEY_STORAGE = "superbenchmark.api-key";

/** A failed request: an RFC 9457 problem from the server, or no answer at all (status 0). */
export class Problem extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

let askForKey = async () => null;
let pendingKey = null;

/** `ask(reason)` resolves to the key the reader typed, or null when they cancel. */
export function setKeyPrompt(ask) {
  askForKey = ask;
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** The query string of `params`: empty values left out, arrays repeated (label=a:1&label=b:2). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") search.append(name, String(item));
    }
  }
  return search.toString();
}

/** GET `path` with `params`; the parsed JSON body, or a thrown Problem. */
export async function getJson(path, params = {}) {
  const qs = query(params);
  const url = qs ? `${path}?${qs}` : path;
  for (;;) {
    const response = await send(url);
    if (response.status === 401 && (await keyAfterRefusal(response))) continue;
    if (!response.ok) throw await problemOf(response);
    return response.json();
  }
}

async function send(url) {
  const headers = { Accept: "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  try {
    return await fetch(url, { headers });
  } catch (error) {
    throw new Problem(0, "Cannot reach the server", `the request to ${url} got no answer (${error.message})`);
  }
}

// Asks once for all the requests refused together; true when there is a new key to retry with.
async function keyAfterRefusal(response) {
  const sent = storedKey();
  const problem = await problemOf(response);
  if (!pendingKey) {
    const reason = sent ? `The key was refused: ${problem.detail}` : "This server needs an API key to read results.";
    pendingKey = askForKey(reason).finally(() => {
      pendingKey = null;
    });
  }
  const key = await pendingKey;
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    return true;
  }
  if (storedKey() && storedKey() !== sent) return true; // another request's prompt got a new key
  throw problem;
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.clone().json();
  } catch {
    body = null;
  }
  const title = (body && body.title) || `HTTP ${response.status}`;
  const detail = (body && body.detail) || response.statusText || "";
  return new Problem(response.status, title, detail);
}
