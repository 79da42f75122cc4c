// The app's entry point: the session (sign-in when API keys are configured), the hash router
// and the header's live-status indicator.

import { api, events, onUnauthorized } from "./api.js";
import { renderClassifier, renderClassifiers } from "./classifiers.js";
import { errorState, focusHeading, h, icon, loadingState } from "./dom.js";
import { renderGallery } from "./gallery.js";
import { renderImage } from "./image.js";
import { renderCluster, renderPeople, renderPerson, renderReview } from "./people.js";
import { renderSubscription, renderSubscriptions } from "./subscriptions.js";

const main = document.getElementById("main");

const ROUTES = [
  { pattern: /^\/$/, render: renderGallery, nav: "gallery" },
  { pattern: /^\/images\/([^/]+)$/, render: renderImage, nav: "gallery" },
  { pattern: /^\/people$/, render: renderPeople, nav: "people" },
  { pattern: /^\/people\/review$/, render: renderReview, nav: "people" },
  { pattern: /^\/people\/clusters\/([^/]+)$/, render: renderCluster, nav: "people" },
  { pattern: /^\/people\/([^/]+)$/, render: renderPerson, nav: "people" },
  { pattern: /^\/classifiers$/, render: renderClassifiers, nav: "classifiers" },
  { pattern: /^\/classifiers\/([^/]+)$/, render: renderClassifier, nav: "classifiers" },
  { pattern: /^\/subscriptions$/, render: renderSubscriptions, nav: "subscriptions" },
  { pattern: /^\/subscriptions\/([^/]+)$/, render: renderSubscription, nav: "subscriptions" },
];

let session = { auth_required: false, signed_in: true };
let current = null; // {controller} of the page on screen
let showingSignIn = false;
let firstRender = true;

function parseHash() {
  const raw = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  const [path, search = ""] = (raw || "/").split("?");
  return { path: path || "/", query: new URLSearchParams(search) };
}

/** Replace the current route's query string without re-rendering (filters, tabs). */
export function setQuery(values) {
  const { path } = parseHash();
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    params.set(key, value === true ? "1" : String(value));
  }
  const text = params.toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}

function setNav(active) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (showingSignIn) return;
  current?.controller.abort();
  const controller = new AbortController();
  current = { controller };
  const { path, query } = parseHash();
  const found = ROUTES.map((r) => ({ route: r, match: r.pattern.exec(path) })).find((r) => r.match);
  window.scrollTo(0, 0);
  if (!found) {
    setNav(null);
    main.replaceChildren(notFound("There is nothing at this address."));
    focusHeading(main);
    return;
  }
  setNav(found.route.nav);
  main.replaceChildren(loadingState());
  const params = found.match.slice(1).map(decodeURIComponent);
  try {
    await found.route.render({ main, params, query, signal: controller.signal, setQuery });
  } catch (error) {
    if (controller.signal.aborted || error?.name === "AbortError") return;
    if (error?.status === 401) return; // the sign-in form has taken over
    main.replaceChildren(error?.status === 404 ? notFound(error.message) : errorState(error, () => route(), "h1"));
    focusHeading(main);
    return;
  }
  if (!firstRender && !controller.signal.aborted) focusHeading(main);
  firstRender = false;
}

function notFound(message) {
  document.title = "Not found · Sightline";
  return h(
    "div",
    { class: "state empty" },
    h("div", { class: "state-icon" }, icon("search")),
    h("h1", {}, "Not found"),
    h("p", {}, message),
    h("a", { href: "#/", class: "button primary" }, "Go to the images"),
  );
}

// -- session -------------------------------------------------------------------------------------

function signInPage() {
  const errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
  const input = h("input", {
    id: "api-key",
    name: "api_key",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
  });
  const button = h("button", { type: "submit", class: "primary wide" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-card", "aria-labelledby": "signin-title" },
    h("img", { src: "ui/logo.svg", alt: "", width: 48, height: 48, class: "signin-logo" }),
    h("h1", { id: "signin-title" }, "Sign in to Sightline"),
    h("p", { class: "muted" }, "This server needs an API key: ask the person who runs it for one. Your browser stays signed in with a cookie and never keeps the key."),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    errorBox,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.hidden = true;
    try {
      session = await api("ui/session", { method: "POST", json: { api_key: input.value } });
      showingSignIn = false;
      document.body.classList.remove("signed-out");
      startSession();
    } catch (error) {
      errorBox.textContent =
        error.status === 401 ? "That key is not valid. Check it and try again." : error.message;
      errorBox.hidden = false;
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "signin" }, form);
}

function showSignIn() {
  if (showingSignIn) return;
  showingSignIn = true;
  current?.controller.abort();
  events.stop();
  document.body.classList.add("signed-out");
  document.title = "Sign in · Sightline";
  main.replaceChildren(signInPage());
  main.querySelector("input").focus();
}

function startSession() {
  document.getElementById("sign-out").hidden = !session.auth_required;
  events.start();
  firstRender = true;
  route();
}

async function signOut() {
  try {
    await api("ui/session", { method: "DELETE" });
  } finally {
    session = { auth_required: true, signed_in: false };
    showSignIn();
  }
}

function watchLiveStatus() {
  const indicator = document.getElementById("live-status");
  const text = indicator.querySelector(".live-text");
  const words = { live: "Live", connecting: "Connecting…", offline: "Offline" };
  events.onStatus((status) => {
    indicator.dataset.status = status;
    text.textContent = words[status];
    indicator.title =
      status === "live" ? "Live updates are on" : "Live updates are paused; reconnecting";
  });
}

async function boot() {
  onUnauthorized(() => showSignIn());
  watchLiveStatus();
  document.getElementById("sign-out").addEventListener("click", signOut);
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault(); // a real "#main" would be taken for a route
    main.focus();
  });
  window.addEventListener("hashchange", () => route());
  try {
    session = await api("ui/session");
  } catch (error) {
    main.replaceChildren(errorState(error, () => location.reload()));
    return;
  } finally {
    document.body.classList.remove("booting");
  }
  if (session.auth_required && !session.signed_in) showSignIn();
  else startSession();
}

boot();
