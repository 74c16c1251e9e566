// Python in the reader's browser, for every widget of the course.
//
// Loads Pyodide once per page from the site's own `pyodide/` folder, installs the
// course's `lessons` wheel named in `browser/manifest.json`, and hands both out:
//
//   import { loadRuntime, siteURL } from "./pyodide-runtime.js";
//   const { pyodide, manifest } = await loadRuntime();
//   const markov = pyodide.pyimport("lessons.markov");
//
// All URLs are resolved against this file's own URL, so the same code works on the
// German pages (/), the English pages (/en/) and under a sub-path (GitHub Pages).
// Nothing is loaded from any other host.

const SITE_ROOT = new URL("../", import.meta.url); // this file lives in <site>/javascripts/

/** The URL of `path` (e.g. "browser/corpora/x.txt") inside the built site. */
export function siteURL(path) {
  return new URL(path, SITE_ROOT);
}

let manifestPromise = null;
let runtimePromise = null;

/** `browser/manifest.json`: {wheel, corpora: [{id, lang, title, author, chars}]}; fetched once. */
export function loadManifest() {
  manifestPromise ??= fetchOK(siteURL("browser/manifest.json"), { cache: "no-cache" }).then(
    (response) => response.json(),
  );
  return manifestPromise;
}

/** Pyodide with `lessons` installed, and the manifest: {pyodide, manifest}; started once. */
export function loadRuntime() {
  runtimePromise ??= start();
  return runtimePromise;
}

async function start() {
  const indexURL = siteURL("pyodide/").href;
  // Fetch the manifest while the Pyodide module loads, then the wheel while Python boots.
  const [{ loadPyodide }, manifest] = await Promise.all([
    import(indexURL + "pyodide.mjs"),
    loadManifest(),
  ]);
  const pyodide = await loadPyodide({
    indexURL,
    packageBaseUrl: indexURL, // also where Pyodide would look for other packages: never a CDN
  });
  await pyodide.loadPackage(siteURL("browser/" + manifest.wheel).href, {
    messageCallback: () => {}, // "Loading lessons…" and "Loaded lessons" are no news
  });
  return { pyodide, manifest };
}

/** The text of a text file of the site (e.g. a corpus), fetched once per page. */
const texts = new Map();
export function loadText(path) {
  if (!texts.has(path)) {
    const text = fetchOK(siteURL(path)).then((response) => response.text());
    text.catch(() => texts.delete(path)); // let a later call try again
    texts.set(path, text);
  }
  return texts.get(path);
}

async function fetchOK(url, options) {
  const response = await fetch(url, options);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}
