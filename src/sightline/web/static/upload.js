// Uploads: one request per file (so every file gets its own progress bar and its own error),
// a few at a time, followed until the analysis ends. The queue lives as long as the page, not
// the gallery view: navigating away does not cancel anything.

import { api, events, imageIdOf, uploadFile } from "./api.js";
import { formatBytes, h, icon } from "./dom.js";
import { featureLabel } from "./labels.js";

const PARALLEL = 3;
const items = [];
const uploadedListeners = new Set();
let running = 0;

const list = h("ul", { class: "upload-list" });
const summary = h("span", { class: "upload-summary" });
const clearButton = h(
  "button",
  { type: "button", class: "small ghost", onclick: clearFinished },
  "Clear finished",
);
export const uploadPanel = h(
  "section",
  { class: "upload-panel", "aria-label": "Uploads", hidden: true },
  h("div", { class: "upload-head" }, icon("upload"), summary, clearButton),
  list,
);

/** Calls `listener(image)` for each file the server has accepted. */
export function onUploaded(listener) {
  uploadedListeners.add(listener);
  return () => uploadedListeners.delete(listener);
}

export function addFiles(fileList) {
  const files = Array.from(fileList ?? []);
  if (!files.length) return;
  for (const file of files) {
    const item = { file, state: "queued", progress: 0, image: null, error: null };
    item.el = renderItem(item);
    items.push(item);
    list.append(item.el);
  }
  uploadPanel.hidden = false;
  update();
  pump();
}

function pump() {
  while (running < PARALLEL) {
    const next = items.find((item) => item.state === "queued");
    if (!next) return;
    running += 1;
    start(next).finally(() => {
      running -= 1;
      pump();
    });
  }
}

async function start(item) {
  setState(item, "uploading");
  try {
    const image = await uploadFile(item.file, {
      onProgress: (fraction) => {
        item.progress = fraction;
        paint(item);
      },
    });
    item.image = image;
    setState(item, "analysing");
    settle();
    for (const listener of uploadedListeners) listener(image);
  } catch (error) {
    item.error = error;
    setState(item, "rejected");
  }
}

// An uploaded file is finished when its analysis is. The analysis may end before the upload's
// own answer arrives, so recent outcomes are remembered for a while.
const outcomes = new Map(); // image id -> {failed, features}
events.on((envelope) => {
  const id = imageIdOf(envelope);
  if (!id) return;
  const done = envelope.type === "sightline.image.analyzed";
  const failed = envelope.type === "sightline.image.failed";
  if (!done && !failed) return;
  outcomes.set(id, { failed, features: Object.keys(envelope.data?.errors ?? {}) });
  if (outcomes.size > 1000) outcomes.delete(outcomes.keys().next().value);
  settle();
});

function settle() {
  for (const item of items) {
    const outcome = item.image && item.state === "analysing" && outcomes.get(item.image.id);
    if (outcome) {
      item.failedFeatures = outcome.features;
      setState(item, outcome.failed ? "failed" : "done");
    }
  }
}

// Without the live stream (a proxy that buffers it, a reconnect gap) a slow poll still ends
// every upload's progress.
setInterval(async () => {
  for (const item of items) {
    if (item.state !== "analysing" || item.polling) continue;
    item.polling = true;
    try {
      const image = await api(`v1/images/${item.image.id}`);
      if (image.status === "done" || image.status === "failed") {
        const failed = Object.entries(image.features)
          .filter(([, feature]) => feature.status === "failed")
          .map(([name]) => name);
        outcomes.set(image.id, { failed: image.status === "failed", features: failed });
        settle();
      }
    } catch (error) {
      if (error.status === 404) {
        item.error = { message: "The image was deleted." };
        setState(item, "rejected");
      } // otherwise a network blip: the next round tries again
    } finally {
      item.polling = false;
    }
  }
}, 4000);

/**
 * Why the server refused `name`, in words about that file. The server's own message names
 * the file by its place in a batch and gives limits in bytes: fine for a script, not here.
 */
export function refusal(name, error) {
  const limit = error.details?.limit;
  switch (error.code) {
    case "InvalidImageFormat":
      return /not an image/i.test(error.message)
        ? `${name} is not an image (PNG, JPEG, WebP, GIF, HEIC …).`
        : `${name} is damaged or incomplete: it could not be read as an image.`;
    case "EmptyImage":
      return `${name} is empty (0 bytes).`;
    case "ImageTooLarge":
    case "PayloadTooLarge":
      return `${name} is too large${Number.isFinite(limit) ? `: files up to ${formatBytes(limit)} are accepted` : ""}.`;
    case "ImageDimensionsTooLarge":
    case "ImageMemoryTooLarge":
      return `${name} has too many pixels to analyse; make it smaller and try again.`;
    case "InsufficientStorage":
      return "The server's disk is full: nothing more can be stored until space is freed.";
    default:
      return error.message ?? "The upload failed.";
  }
}

function setState(item, state) {
  item.state = state;
  paint(item);
  update();
}

function renderItem(item) {
  const name = item.file.name || "unnamed file";
  const progress = h("progress", { max: 100, value: 0, "aria-label": `Upload of ${name}` });
  const status = h("span", { class: "upload-status" });
  const link = h("a", { class: "upload-open", hidden: true }, "Open");
  const el = h(
    "li",
    { class: "upload-item", dataset: { state: item.state } },
    h("span", { class: "upload-icon" }, icon("image")),
    h(
      "div",
      { class: "upload-body" },
      h(
        "div",
        { class: "upload-line" },
        h("span", { class: "upload-name", title: name }, name),
        h("span", { class: "upload-size muted" }, formatBytes(item.file.size)),
      ),
      progress,
      h("div", { class: "upload-line" }, status, link),
    ),
  );
  el.parts = { progress, status, link };
  return el;
}

function paint(item) {
  const { progress, status, link } = item.el.parts;
  item.el.dataset.state = item.state;
  const pct = Math.round(item.progress * 100);
  progress.value = item.state === "queued" ? 0 : pct;
  const texts = {
    queued: "Waiting…",
    uploading: `Uploading… ${pct} %`,
    analysing: item.image?.duplicate ? "Stored (same bytes as an earlier upload); analysing…" : "Uploaded; analysing…",
    done: "Done",
    failed: item.failedFeatures?.length
      ? `Analysed, but ${item.failedFeatures.map(featureLabel).join(", ")} failed`
      : "Analysed with errors",
    rejected: item.error ? refusal(item.file.name || "This file", item.error) : "Upload failed",
  };
  status.textContent = texts[item.state];
  status.classList.toggle("error-text", item.state === "rejected" || item.state === "failed");
  if (item.state === "rejected") status.setAttribute("role", "alert");
  if (item.image) {
    link.href = `#/images/${item.image.id}`;
    link.hidden = false;
  }
}

function update() {
  const total = items.length;
  const finished = items.filter((i) => ["done", "failed", "rejected"].includes(i.state)).length;
  const rejected = items.filter((i) => i.state === "rejected").length;
  summary.textContent =
    `${finished} of ${total} finished` + (rejected ? ` · ${rejected} refused` : "");
  clearButton.hidden = finished === 0;
  if (!total) uploadPanel.hidden = true;
}

function clearFinished() {
  for (let index = items.length - 1; index >= 0; index -= 1) {
    if (["done", "failed", "rejected"].includes(items[index].state)) {
      items[index].el.remove();
      items.splice(index, 1);
    }
  }
  update();
}

// Files dropped anywhere but a drop zone must not replace the app with the file itself.
for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (event.dataTransfer?.types?.includes("Files")) event.preventDefault();
  });
}

/** Makes `zone` take dropped files, showing `overlay` while files are dragged over it. */
export function dropZone(zone, overlay) {
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer?.types?.includes("Files");
  zone.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    overlay.hidden = false;
  });
  zone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    addFiles(event.dataTransfer?.files);
  });
}
