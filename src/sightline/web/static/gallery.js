// The gallery: thumbnails grouped by upload day, exact copies stacked, search with relevance
// and filters, endless pages, live updates, uploads by drag-and-drop (where there is a mouse to
// drag with), and selecting images to label them for a classifier.

import { api, events, imageIdOf, url } from "./api.js";
import {
  badge,
  clear,
  confirmDialog,
  emptyState,
  errorState,
  formatBytes,
  h,
  icon,
  nextId,
  spinner,
  toast,
} from "./dom.js";
import { statusLabel } from "./labels.js";
import { addFiles, dropZone, onUploaded, uploadPanel } from "./upload.js";

const PAGE = 30;
const SEMANTIC_LIMIT = 60;
const CREATED = "sightline.image.created";
const CHANGED = new Set([
  "sightline.image.analyzed",
  "sightline.image.failed",
  "sightline.image.reprocess_requested",
]);
const DELETED = "sightline.image.deleted";
// Cards show only the thumbnail: lists then carry no other results (tags, text, faces…).
export const CARD_RESULTS = "thumbnail";
// Dropping files needs a mouse and room for the page to be a target; a phone chooses them.
const CAN_DROP = matchMedia("(min-width: 721px) and (hover: hover) and (pointer: fine)");
const STRATEGIES = {
  all_words: "Matched every word",
  any_words: "Matched some words: no image has every word",
  semantic: "Similar in meaning: no image has these words",
};
const DAY = 24 * 60 * 60 * 1000;

export function displayName(image) {
  return image.filename || image.id;
}

/** The URL of a thumbnail, or of the original when no thumbnail will ever exist, or null. */
export function thumbnailUrl(image, size = 256) {
  const thumbnail = image.features?.thumbnail;
  const sizes = thumbnail?.result?.sizes;
  if (sizes) {
    // The stored thumbnail's own hash busts the browser cache when a re-analysis changes it.
    const version = (sizes[String(size)] ?? Object.values(sizes)[0])?.sha256?.slice(0, 12);
    return url(`v1/images/${image.id}/thumbnail`, { size, v: version });
  }
  if (!thumbnail && image.status !== "pending" && image.status !== "processing") {
    return `v1/images/${image.id}/content`;
  }
  return null;
}

/** The heading of an upload moment's group: Today, Yesterday, This week, or its month. */
export function dayGroup(moment, now = new Date()) {
  const day = (date) => new Date(date.getFullYear(), date.getMonth(), date.getDate());
  const date = new Date(moment);
  const today = day(now);
  const daysAgo = Math.round((today - day(date)) / DAY);
  if (daysAgo <= 0) return "Today";
  if (daysAgo === 1) return "Yesterday";
  const monday = today.getTime() - ((today.getDay() + 6) % 7) * DAY;
  if (date.getTime() >= monday) return "This week";
  return date.toLocaleDateString(undefined, { month: "long", year: "numeric" });
}

function placeholder(image) {
  const busy = image.status === "pending" || image.status === "processing";
  return h(
    "div",
    { class: "placeholder" },
    busy ? spinner("Analysing") : icon("image"),
    h("span", {}, busy ? "Analysing…" : "No preview"),
  );
}

/** A small linked thumbnail, for strips of related images. */
export function miniCard(image, caption) {
  const src = thumbnailUrl(image, 128);
  const name = displayName(image);
  return h(
    "li",
    { class: "mini-card" },
    h(
      "a",
      { href: `#/images/${image.id}`, title: name },
      src ? h("img", { src, alt: name, loading: "lazy", decoding: "async" }) : placeholder(image),
      caption ? h("span", { class: "mini-caption" }, caption) : null,
    ),
  );
}

/**
 * How a search hit's score reads on its card: semantic answers (and text searches answered by
 * meaning) carry a calibrated 0-1 score, shown as a percentage; a clip model's is its cosine
 * similarity; text relevance means only an order, so the card shows its rank.
 */
export function relevanceOf(score, page, rank, best = score) {
  if (score === null || score === undefined) return null;
  if (page.method === "clip") {
    return {
      text: `similarity ${score.toFixed(2)}`,
      title: "Cosine similarity of the image–text model: higher is closer; not a probability",
      fraction: score,
    };
  }
  if (page.method === "conse" || page.strategy === "semantic") {
    return {
      text: `${Math.round(score * 100)} % match`,
      title: "How likely this image is what you asked for (calibrated relevance)",
      fraction: score,
    };
  }
  // Text relevance compares within one answer only: the bar measures against the best hit.
  return {
    text: `#${rank}`,
    title: `Relevance order: #${rank}; the bar compares it with the best match`,
    fraction: best > 0 ? score / best : 1,
  };
}

function relevanceTag(relevance) {
  return h(
    "span",
    { class: "relevance", title: relevance.title },
    h("meter", { class: "relevance-meter", min: 0, max: 1, value: relevance.fraction, "aria-hidden": "true" }),
    h("span", {}, relevance.text),
  );
}

function card(image, relevance = null, copies = 1) {
  const name = displayName(image);
  const src = thumbnailUrl(image);
  const thumb = h("div", { class: "thumb" });
  if (src) {
    const img = h("img", { src, alt: name, loading: "lazy", decoding: "async" });
    img.addEventListener("error", () => thumb.replaceChildren(placeholder(image)), { once: true });
    thumb.append(img);
  } else {
    thumb.append(placeholder(image));
  }
  const checkbox = h("input", { type: "checkbox", class: "pick-box", "aria-label": `Select ${name}` });
  const el = h(
    "li",
    { class: "card", dataset: { id: image.id, status: image.status, sha256: image.sha256 } },
    h(
      "a",
      { href: `#/images/${image.id}`, class: "card-link" },
      thumb,
      h(
        "span",
        { class: "caption" },
        h("span", { class: "name" }, name),
        h("span", { class: "meta" }, `${image.width} × ${image.height} · ${formatBytes(image.size)}`),
        relevance ? relevanceTag(relevance) : null,
      ),
    ),
    h("label", { class: "pick" }, checkbox),
    // Analysed is what an image normally is: only the others say so, not to cover every photo.
    image.status === "done" ? null : h("span", { class: "card-badge" }, badge(image.status, statusLabel(image.status))),
    copies > 1
      ? h(
          "a",
          {
            class: "stack-count",
            href: `#/?copies=${image.sha256}`,
            title: `${copies} uploads of exactly this file: show them all`,
            "aria-label": `${copies} copies of ${name}: show them`,
          },
          icon("layers"),
          `×${copies}`,
        )
      : null,
  );
  if (copies > 1) el.classList.add("stacked");
  el.checkbox = checkbox;
  return el;
}

export async function renderGallery({ main, query, signal, setQuery }) {
  document.title = "Images · Sightline";
  const state = {
    q: query.get("q") ?? "",
    mode: query.get("mode") === "semantic" ? "semantic" : "text",
    status: query.get("status") ?? "",
    tag: query.get("tag") ?? "",
    label: query.get("label") ?? "",
    order: query.get("order") === "oldest" ? "oldest" : "newest",
    copies: /^[0-9a-f]{64}$/.test(query.get("copies") ?? "") ? query.get("copies") : "",
    selecting: query.has("select"),
    classifier: query.get("select") ?? "",
  };
  const cards = new Map(); // image id -> card element
  // Exact copies (same bytes) share one card: sha256 -> {images, el}, the card showing images[0].
  const stacks = new Map();
  const relevance = new Map(); // image id -> how its search score reads (kept across refreshes)
  let answer = null; // the first page's facts: total, strategy, ignored words, threshold
  const selected = new Set();
  let cursor = null;
  let loading = false;
  let generation = 0;
  let lastPicked = null;

  // -- structure -------------------------------------------------------------------------------

  const fileInput = h("input", {
    type: "file",
    multiple: true,
    accept: "image/*,.heic,.heif,.avif",
    class: "visually-hidden",
    tabindex: "-1",
    "aria-hidden": "true",
  });
  fileInput.addEventListener("change", () => {
    addFiles(fileInput.files);
    fileInput.value = "";
  });
  const chooseFiles = () => fileInput.click();
  const selectButton = h(
    "button",
    { type: "button", "aria-pressed": String(state.selecting), onclick: () => setSelecting(!state.selecting) },
    icon("check-square"),
    h("span", {}, "Select"),
  );

  const searchInput = h("input", {
    type: "search",
    id: "gallery-q",
    name: "q",
    value: state.q,
    placeholder: "Search tags, text, labels, file names…",
    autocomplete: "off",
    enterkeyhint: "search",
  });
  const modeName = nextId("mode");
  const modeRadio = (value, text) =>
    h(
      "label",
      { class: "segment" },
      h("input", { type: "radio", name: modeName, value, checked: state.mode === value }),
      h("span", {}, text),
    );
  const modeGroup = h(
    "fieldset",
    { class: "segmented" },
    h("legend", { class: "visually-hidden" }, "Search by"),
    modeRadio("text", "Words"),
    modeRadio("semantic", "Meaning"),
  );
  const statusSelect = h(
    "select",
    { id: "gallery-status", name: "status", value: state.status },
    h("option", { value: "" }, "Any status"),
    ["pending", "processing", "done", "failed"].map((status) => h("option", { value: status }, statusLabel(status))),
  );
  const orderSelect = h(
    "select",
    { id: "gallery-order", name: "order", value: state.order },
    h("option", { value: "newest" }, "Newest first"),
    h("option", { value: "oldest" }, "Oldest first"),
  );
  const tagInput = h("input", { id: "gallery-tag", name: "tag", value: state.tag, placeholder: "e.g. cat", autocomplete: "off" });
  const labelList = h("datalist", { id: nextId("labels") });
  const labelInput = h("input", {
    id: "gallery-label",
    name: "label",
    value: state.label,
    placeholder: "custom label",
    autocomplete: "off",
    list: labelList.id,
  });
  const clearFilters = h("button", { type: "button", class: "ghost small", onclick: resetFilters }, icon("x"), "Clear");
  const modeHint = h("p", { class: "hint", hidden: true }, "Searching by meaning ranks images by how close they are to your words; filters do not apply.");
  const sortField = h("div", { class: "field inline" }, h("label", { for: "gallery-order" }, "Sort"), orderSelect);
  // On a phone the filters fold behind this button, so the photos start near the top.
  const filterRow = h(
    "div",
    { class: "filter-row", id: nextId("filters") },
    h("div", { class: "field inline" }, h("label", { for: "gallery-status" }, "Status"), statusSelect),
    h("div", { class: "field inline" }, h("label", { for: "gallery-tag" }, "Tag"), tagInput),
    h("div", { class: "field inline" }, h("label", { for: "gallery-label" }, "Label"), labelInput, labelList),
    sortField,
    clearFilters,
  );
  const filtersToggle = h(
    "button",
    {
      type: "button",
      class: "filters-toggle",
      "aria-expanded": "false",
      "aria-controls": filterRow.id,
      onclick: () => setFiltersOpen(filtersToggle.getAttribute("aria-expanded") !== "true"),
    },
    "Filters",
  );
  const toolbar = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Search and filter images" },
    h(
      "div",
      { class: "search-row" },
      h(
        "div",
        { class: "search-box" },
        h("label", { for: "gallery-q", class: "visually-hidden" }, "Search images"),
        icon("search"),
        searchInput,
      ),
      modeGroup,
      filtersToggle,
    ),
    filterRow,
    modeHint,
  );
  function setFiltersOpen(open) {
    filtersToggle.setAttribute("aria-expanded", String(open));
    toolbar.classList.toggle("filters-open", open);
  }

  const info = h("p", { class: "results-info muted", "aria-live": "polite" });
  const grid = h("ul", { class: "grid", "aria-label": "Images" });
  const moreButton = h("button", { type: "button", class: "ghost", onclick: () => loadMore() }, "Load more");
  const more = h("div", { class: "more", hidden: true }, moreButton);
  const results = h("div", { class: "results" });

  // Selection bar: label the chosen images for a classifier, or delete them.
  const count = h("strong", { class: "selection-count" });
  const classifierSelect = h("select", { id: "label-classifier", name: "classifier" });
  const labelChoices = h("datalist", { id: nextId("classifier-labels") });
  const newLabel = h("input", {
    id: "label-name",
    name: "label",
    list: labelChoices.id,
    placeholder: "e.g. dress",
    autocomplete: "off",
  });
  const applyButton = h("button", { type: "submit", class: "primary" }, icon("tag"), "Apply label");
  const labelForm = h(
    "form",
    { class: "selection-label" },
    h("div", { class: "field inline" }, h("label", { for: "label-classifier" }, "Classifier"), classifierSelect),
    h("div", { class: "field inline" }, h("label", { for: "label-name" }, "Label"), newLabel, labelChoices),
    applyButton,
  );
  const noClassifiers = h(
    "p",
    { class: "muted", hidden: true },
    "To label images, ",
    h("a", { href: "#/classifiers?new=1" }, "create a classifier"),
    " first.",
  );
  const deleteButton = h("button", { type: "button", class: "ghost danger-text", onclick: deleteSelected }, icon("trash"), "Delete");
  const bar = h(
    "div",
    { class: "selection-bar", role: "region", "aria-label": "Selected images", hidden: !state.selecting },
    h("div", { class: "selection-summary" }, count, h("span", { class: "muted small" }, "Shift-click selects a range")),
    labelForm,
    noClassifiers,
    h(
      "div",
      { class: "selection-actions" },
      h("button", { type: "button", class: "ghost", onclick: selectAll }, "Select all"),
      deleteButton,
      h("button", { type: "button", onclick: () => setSelecting(false) }, "Done"),
    ),
  );

  const lede = h("p", { class: "lede muted" });
  const sayHowToUpload = () => {
    lede.textContent = CAN_DROP.matches
      ? "Drop images anywhere on this page to upload them; each is analysed in the background."
      : "Choose photos to analyse them in the background.";
  };
  sayHowToUpload();
  CAN_DROP.addEventListener("change", sayHowToUpload);
  const overlay = h(
    "div",
    { class: "drop-overlay", hidden: true },
    h("div", { class: "drop-message" }, icon("upload"), h("p", {}, "Drop images to upload them")),
  );
  const section = h(
    "section",
    { class: ["gallery", state.selecting && "selecting"], id: "gallery", "data-dropzone": "" },
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", {}, "Images"),
        lede,
      ),
      h(
        "div",
        { class: "actions" },
        selectButton,
        h("button", { type: "button", class: "primary", onclick: chooseFiles }, icon("upload"), h("span", {}, "Upload")),
        fileInput,
      ),
    ),
    toolbar,
    uploadPanel,
    info,
    results,
    bar,
    overlay,
  );
  dropZone(section, overlay);
  clear(main, section);

  // -- loading ---------------------------------------------------------------------------------

  const searching = () => Boolean(state.q.trim() || state.tag.trim() || state.label.trim());
  const semantic = () => state.mode === "semantic" && Boolean(state.q.trim());
  // Listings are in upload order, so they read in groups of days; searches in relevance order.
  const listing = () => !searching();

  function request(pageCursor) {
    if (state.copies) {
      return api("v1/images", {
        query: { sha256: state.copies, limit: PAGE, cursor: pageCursor, results: CARD_RESULTS },
        signal,
      });
    }
    if (semantic()) {
      return api("v1/search", {
        query: { q: state.q.trim(), mode: "semantic", limit: SEMANTIC_LIMIT, results: CARD_RESULTS },
        signal,
      });
    }
    if (searching()) {
      return api("v1/search", {
        query: {
          q: state.q.trim(),
          tag: state.tag.trim(),
          label: state.label.trim(),
          status: state.status,
          limit: PAGE,
          cursor: pageCursor,
          results: CARD_RESULTS,
        },
        signal,
      });
    }
    return api("v1/images", {
      query: { status: state.status, order: state.order, limit: PAGE, cursor: pageCursor, results: CARD_RESULTS },
      signal,
    });
  }

  const images = (count) => `${count.toLocaleString()} ${count === 1 ? "image" : "images"}`;

  function describe() {
    if (state.copies) {
      const first = stacks.get(state.copies)?.images[0];
      return [
        `${images(answer?.total ?? cards.size)}: exact copies of ${first ? `“${displayName(first)}”` : "one file"}, newest first · `,
        h("a", { href: "#/" }, "Show every image"),
      ];
    }
    if (semantic()) {
      const floor = answer?.threshold ? ` (at least ${Math.round(answer.threshold * 100)} % match)` : "";
      return `${images(cards.size)} closest in meaning to “${state.q.trim()}”, best first${floor}`;
    }
    const parts = [];
    if (state.q.trim()) parts.push(`matching “${state.q.trim()}”`);
    if (state.tag.trim()) parts.push(`tagged “${state.tag.trim()}”`);
    if (state.label.trim()) parts.push(`labelled “${state.label.trim()}”`);
    if (state.status) parts.push(`with status ${statusSelect.selectedOptions[0].textContent.toLowerCase()}`);
    const found = Number.isInteger(answer?.total) ? images(answer.total) : "Images";
    const order = state.order === "oldest" ? "oldest first" : "newest first";
    if (listing()) return `${[found, ...parts].join(" ")} · ${order}`;
    return `${found} ${parts.join(", ")}${state.q.trim() ? ", best first" : ", newest first"}`;
  }

  /** How the search answered the words, and which it left out. */
  function notes() {
    const said = [];
    const strategy = semantic() ? null : STRATEGIES[answer?.strategy];
    if (strategy) said.push(strategy);
    const ignored = answer?.ignored_words ?? [];
    if (ignored.length) said.push(`Ignored: ${ignored.join(", ")} (too common to search for)`);
    return said.map((text) => h("span", { class: "search-note" }, text));
  }

  function showInfo() {
    info.replaceChildren(h("span", {}, describe()), ...notes());
  }

  async function reload() {
    generation += 1;
    const mine = generation;
    cards.clear();
    stacks.clear();
    relevance.clear();
    answer = null;
    selected.clear();
    updateSelection();
    cursor = null;
    grid.replaceChildren(...Array.from({ length: 8 }, () => h("li", { class: "card skeleton", "aria-hidden": "true" })));
    results.replaceChildren(grid, more);
    more.hidden = true;
    info.textContent = "Loading…";
    loading = true;
    try {
      const page = await request(null);
      if (mine !== generation) return;
      grid.replaceChildren();
      showPage(page);
    } catch (error) {
      if (mine !== generation || error.name === "AbortError") return;
      if (error.status === 401) return;
      info.textContent = "";
      results.replaceChildren(errorState(error, reload));
    } finally {
      if (mine === generation) loading = false;
    }
  }

  async function loadMore() {
    if (loading || !cursor) return;
    const mine = generation;
    loading = true;
    moreButton.disabled = true;
    moreButton.replaceChildren(spinner(), " Loading…");
    try {
      const page = await request(cursor);
      if (mine === generation) showPage(page);
    } catch (error) {
      if (error.name !== "AbortError" && mine === generation) toast(error.message, "error");
    } finally {
      if (mine === generation) loading = false;
      moreButton.disabled = false;
      moreButton.replaceChildren("Load more");
    }
  }

  function showPage(page) {
    answer ??= page;
    const best = answer.items?.[0]?.score;
    for (const item of page.items) {
      const image = item.image ?? item;
      if (cards.has(image.id)) continue;
      if (stack(image, false)) continue;
      const reading = relevanceOf(item.score, page, cards.size + 1, best);
      if (reading) relevance.set(image.id, reading);
      grid.append(remember(card(image, reading)));
      stacks.set(stackKey(image), { images: [image], el: cards.get(image.id) });
    }
    cursor = page.next_cursor ?? null;
    more.hidden = !cursor;
    if (!cards.size) {
      results.replaceChildren(emptyResults());
      info.replaceChildren(...notes());
    } else {
      regroup();
      showInfo();
    }
  }

  // The copies page shows every copy: there the key is the image's own.
  const stackKey = (image) => (state.copies ? image.id : image.sha256);

  /**
   * Adds `image` to the stack of its bytes when there is one, and answers whether it did. A new
   * upload (`newest`) becomes the stack's face; a copy found further down the list joins it.
   */
  function stack(image, newest) {
    const found = stacks.get(stackKey(image));
    if (!found) return false;
    const others = found.images.filter((other) => other.id !== image.id);
    found.images = newest ? [image, ...others] : [...others, image];
    const face = found.images[0];
    const old = found.el;
    cards.delete(old.dataset.id);
    const replacement = remember(card(face, relevance.get(face.id), found.images.length));
    if (newest) {
      old.remove();
      grid.prepend(replacement);
    } else {
      old.replaceWith(replacement);
    }
    found.el = replacement;
    return true;
  }

  /** Day headings between the cards of a listing (none for search results: they are ranked). */
  function regroup() {
    for (const head of grid.querySelectorAll(".group-head")) head.remove();
    if (!listing()) return;
    let last = null;
    for (const el of [...grid.children]) {
      const stacked = stacks.get(el.dataset.stack);
      const group = stacked ? dayGroup(stacked.images[0].created_at) : null;
      if (group && group !== last) el.before(h("li", { class: "group-head" }, h("h2", {}, group)));
      last = group ?? last;
    }
  }

  function emptyResults() {
    if (searching() || state.status || state.copies) {
      return emptyState({
        iconName: "search",
        title: "No images match",
        text: semantic()
          ? `Nothing is close enough in meaning${answer?.threshold ? ` (at least ${Math.round(answer.threshold * 100)} % match)` : ""}. Try other words.`
          : "Try fewer or other words, or clear the filters.",
        actions: [h("button", { type: "button", onclick: resetFilters }, "Clear search and filters")],
      });
    }
    return emptyState({
      iconName: "upload",
      title: "No images yet",
      text: `${CAN_DROP.matches ? "Drag images onto this page or choose files" : "Choose photos to upload"}. Each is stored and analysed in the background: tags, text, faces, colours and more.`,
      actions: [h("button", { type: "button", class: "primary", onclick: chooseFiles }, icon("upload"), CAN_DROP.matches ? "Choose files" : "Choose photos")],
    });
  }

  function remember(el) {
    cards.set(el.dataset.id, el);
    el.dataset.stack = state.copies ? el.dataset.id : el.dataset.sha256;
    el.checkbox.checked = selected.has(el.dataset.id);
    el.checkbox.addEventListener("change", () => pick(el, el.checkbox.checked, false));
    el.querySelector(".card-link").addEventListener("click", (event) => {
      if (!state.selecting) return;
      event.preventDefault();
      pick(el, !el.checkbox.checked, event.shiftKey);
    });
    return el;
  }

  /** Show `image` (new, or newer than the card on screen). */
  function upsert(image, { prepend = false } = {}) {
    const existing = cards.get(image.id);
    if (existing) {
      const found = stacks.get(existing.dataset.stack);
      found.images = found.images.map((other) => (other.id === image.id ? image : other));
      const replacement = remember(card(image, relevance.get(image.id), found.images.length));
      existing.replaceWith(replacement);
      found.el = replacement;
      return;
    }
    const hidden = [...stacks.values()].find((found) => found.images.some((other) => other.id === image.id));
    if (hidden) {
      hidden.images = hidden.images.map((other) => (other.id === image.id ? image : other));
      return;
    }
    if (!prepend) return;
    if (!grid.isConnected) results.replaceChildren(grid, more);
    if (Number.isInteger(answer?.total)) answer.total += 1;
    if (!stack(image, true)) {
      grid.prepend(remember(card(image)));
      stacks.set(stackKey(image), { images: [image], el: cards.get(image.id) });
    }
    regroup();
    showInfo();
  }

  function removeCard(id) {
    const found = [...stacks.entries()].find(([, one]) => one.images.some((image) => image.id === id));
    if (!found) return;
    const [key, gone] = found;
    if (Number.isInteger(answer?.total)) answer.total -= 1;
    gone.images = gone.images.filter((image) => image.id !== id);
    selected.delete(id);
    const shown = gone.el.dataset.id;
    cards.delete(shown);
    if (gone.images.length) {
      const face = gone.images[0];
      const replacement = remember(card(face, relevance.get(face.id), gone.images.length));
      gone.el.replaceWith(replacement);
      gone.el = replacement;
    } else {
      gone.el.remove();
      stacks.delete(key);
    }
    regroup();
    updateSelection();
    if (!cards.size && !cursor) results.replaceChildren(emptyResults());
    else if (cards.size) showInfo();
  }

  // New images join the top of an unfiltered list; every image on screen follows its analysis.
  const acceptsNew = () =>
    !searching() && !state.copies && state.order === "newest" && (!state.status || state.status === "pending");
  const stale = new Map(); // id -> prepend?
  let flushTimer = null;
  function refresh(id, prepend) {
    stale.set(id, prepend || stale.get(id) || false);
    clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, 100); // one fetch for a burst of events about one image
  }
  async function flush() {
    const batch = [...stale];
    stale.clear();
    await Promise.all(
      batch.map(async ([id, prepend]) => {
        try {
          upsert(await api(`v1/images/${id}`, { signal }), { prepend });
        } catch (error) {
          if (error.status === 404) removeCard(id);
        }
      }),
    );
  }
  const stopEvents = events.on((envelope) => {
    const id = imageIdOf(envelope);
    if (!id) return;
    if (envelope.type === DELETED) removeCard(id);
    else if (envelope.type === CREATED && acceptsNew()) refresh(id, true);
    else if (CHANGED.has(envelope.type) && cards.has(id)) refresh(id, false);
  });
  const stopUploads = onUploaded((image) => {
    if (acceptsNew()) upsert(image, { prepend: true });
  });
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore();
    },
    { rootMargin: "600px" },
  );
  observer.observe(more);
  signal.addEventListener("abort", () => {
    stopEvents();
    stopUploads();
    CAN_DROP.removeEventListener("change", sayHowToUpload);
    observer.disconnect();
    clearTimeout(flushTimer);
    clearTimeout(typingTimer);
  });

  // -- filters ---------------------------------------------------------------------------------

  function syncQuery() {
    setQuery({
      q: state.q.trim(),
      mode: state.mode === "semantic" ? "semantic" : "",
      status: state.status,
      tag: state.tag.trim(),
      label: state.label.trim(),
      order: state.order === "oldest" ? "oldest" : "",
      copies: state.copies,
      select: state.selecting ? state.classifier || true : "",
    });
  }

  function syncControls() {
    const isSemantic = state.mode === "semantic";
    for (const control of [statusSelect, tagInput, labelInput]) control.disabled = isSemantic;
    // Upload order applies to a listing; search results come best first.
    sortField.hidden = searching();
    modeHint.hidden = !isSemantic;
    clearFilters.hidden = !(state.q || state.status || state.tag || state.label || isSemantic || state.order !== "newest");
    const active = [state.status, state.tag.trim(), state.label.trim(), state.order !== "newest"].filter(Boolean).length;
    filtersToggle.textContent = active ? `Filters (${active})` : "Filters";
  }

  function changed() {
    state.copies = "";
    syncControls();
    syncQuery();
    reload();
  }

  let typingTimer = null;
  const typed = (key, input) =>
    input.addEventListener("input", () => {
      state[key] = input.value;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(changed, 350);
    });
  typed("q", searchInput);
  typed("tag", tagInput);
  typed("label", labelInput);
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    changed();
  });
  orderSelect.addEventListener("change", () => {
    state.order = orderSelect.value;
    changed();
  });
  modeGroup.addEventListener("change", (event) => {
    state.mode = event.target.value;
    changed();
  });
  toolbar.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(typingTimer);
    state.q = searchInput.value;
    state.tag = tagInput.value;
    state.label = labelInput.value;
    changed();
  });

  function resetFilters() {
    Object.assign(state, { q: "", mode: "text", status: "", tag: "", label: "", order: "newest" });
    searchInput.value = "";
    tagInput.value = "";
    labelInput.value = "";
    statusSelect.value = "";
    orderSelect.value = "newest";
    modeGroup.querySelector('input[value="text"]').checked = true;
    changed();
    searchInput.focus();
  }

  // -- selection -------------------------------------------------------------------------------

  let classifiers = [];

  function pick(el, on, range) {
    const id = el.dataset.id;
    const targets = [el];
    if (range && lastPicked && cards.has(lastPicked)) {
      const order = [...grid.querySelectorAll(".card")];
      const [a, b] = [order.indexOf(cards.get(lastPicked)), order.indexOf(el)].sort((x, y) => x - y);
      targets.push(...order.slice(a, b + 1));
    }
    for (const target of targets) {
      target.checkbox.checked = on;
      target.classList.toggle("selected", on);
      if (on) selected.add(target.dataset.id);
      else selected.delete(target.dataset.id);
    }
    lastPicked = id;
    updateSelection();
  }

  function updateSelection() {
    const n = selected.size;
    count.textContent = n === 1 ? "1 image selected" : `${n} images selected`;
    applyButton.disabled = n === 0;
    deleteButton.disabled = n === 0;
    for (const [id, el] of cards) el.classList.toggle("selected", selected.has(id));
  }

  function selectAll() {
    for (const el of cards.values()) {
      el.checkbox.checked = true;
      selected.add(el.dataset.id);
    }
    updateSelection();
  }

  async function loadClassifiers() {
    try {
      classifiers = (await api("v1/classifiers", { signal })).items;
    } catch (error) {
      if (error.name !== "AbortError") toast(error.message, "error");
      return;
    }
    classifierSelect.replaceChildren(
      ...classifiers.map((c) => h("option", { value: c.name }, `${c.name} (${c.kind === "multiclass" ? "one label" : "several labels"})`)),
    );
    const wanted = classifiers.find((c) => c.name === state.classifier || c.id === state.classifier);
    if (wanted) classifierSelect.value = wanted.name;
    labelForm.hidden = classifiers.length === 0;
    noClassifiers.hidden = classifiers.length > 0;
    fillLabels();
    labelList.replaceChildren(
      ...[...new Set(classifiers.flatMap((c) => c.labels.map((l) => l.name)))].map((name) => h("option", { value: name })),
    );
  }

  function fillLabels() {
    const chosen = classifiers.find((c) => c.name === classifierSelect.value);
    labelChoices.replaceChildren(...(chosen?.labels ?? []).map((l) => h("option", { value: l.name })));
  }
  classifierSelect.addEventListener("change", () => {
    state.classifier = classifierSelect.value;
    fillLabels();
    syncQuery();
  });

  function setSelecting(on) {
    state.selecting = on;
    section.classList.toggle("selecting", on);
    selectButton.setAttribute("aria-pressed", String(on));
    bar.hidden = !on;
    if (on) {
      loadClassifiers();
    } else {
      for (const el of cards.values()) el.checkbox.checked = false;
      selected.clear();
      updateSelection();
    }
    syncQuery();
  }

  labelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const classifier = classifierSelect.value;
    const labelName = newLabel.value.trim();
    if (!labelName) {
      toast("Type the label to give the selected images.", "error");
      newLabel.focus();
      return;
    }
    const ids = [...selected];
    applyButton.disabled = true;
    try {
      const report = await api(`v1/classifiers/${encodeURIComponent(classifier)}/examples`, {
        method: "POST",
        json: { examples: ids.map((id) => ({ image_id: id, labels: [labelName] })) },
      });
      if (report.failed) {
        const first = report.items.find((item) => item.status >= 400);
        toast(`${report.failed} of ${ids.length} could not be labelled: ${first?.error?.message ?? "unknown error"}`, "error");
      }
      if (report.succeeded) {
        toast(`Labelled ${report.succeeded} ${report.succeeded === 1 ? "image" : "images"} “${labelName}” for ${classifier}.`, "info", {
          action: { href: `#/classifiers/${encodeURIComponent(classifier)}`, label: "Open classifier" },
        });
      }
      for (const el of cards.values()) el.checkbox.checked = false;
      selected.clear();
      updateSelection();
      newLabel.value = "";
      loadClassifiers();
    } catch (error) {
      toast(error.message, "error");
    } finally {
      applyButton.disabled = selected.size === 0;
    }
  });

  async function deleteSelected() {
    const ids = [...selected];
    if (!ids.length) return;
    const ok = await confirmDialog({
      title: ids.length === 1 ? "Delete 1 image?" : `Delete ${ids.length} images?`,
      message: "Their results and thumbnails go too. This cannot be undone.",
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    const outcomes = await Promise.allSettled(ids.map((id) => api(`v1/images/${id}`, { method: "DELETE" })));
    outcomes.forEach((outcome, index) => {
      if (outcome.status === "fulfilled" || outcome.reason?.status === 404) removeCard(ids[index]);
    });
    const failed = outcomes.filter((o) => o.status === "rejected" && o.reason?.status !== 404);
    if (failed.length) toast(`${failed.length} could not be deleted: ${failed[0].reason.message}`, "error");
    else toast(ids.length === 1 ? "Deleted 1 image." : `Deleted ${ids.length} images.`);
  }

  section.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selecting && !event.target.closest("dialog")) setSelecting(false);
  });

  syncControls();
  updateSelection();
  if (state.selecting) loadClassifiers();
  else loadLabelsLater();
  await reload();

  // The label filter suggests every classifier's labels, fetched once the grid is shown.
  function loadLabelsLater() {
    api("v1/classifiers", { signal })
      .then((answer) => {
        const names = [...new Set(answer.items.flatMap((c) => c.labels.map((l) => l.name)))];
        labelList.replaceChildren(...names.map((name) => h("option", { value: name })));
      })
      .catch(() => {});
  }
}
