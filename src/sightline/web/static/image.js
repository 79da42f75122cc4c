// One image: the original with toggleable overlays, and everything the analysis found.

import { api, events, imageIdOf } from "./api.js";
import {
  absoluteTime,
  badge,
  clear,
  confirmDialog,
  copyButton,
  emptyState,
  formatBytes,
  h,
  icon,
  nextId,
  percent,
  spinner,
  timeEl,
  toast,
} from "./dom.js";
import { CARD_RESULTS, displayName, miniCard } from "./gallery.js";
import { featureLabel, imageTypeLabel, statusLabel, versionLabel } from "./labels.js";
import { boxKey, describe, layersOf, overlaySvg } from "./overlays.js";
import { imageFaces } from "./people.js";
import { zoomable } from "./zoom.js";

// Which overlays are on survives re-renders and moving between images. Smart crops start off:
// five crops over the picture hide what the other overlays mark.
const enabledLayers = new Set(["faces", "objects", "people", "text"]);
const openDetails = new Set();

function panel(title, ...content) {
  const id = nextId("panel");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function definitionList(rows) {
  const items = rows.filter(([, value]) => value !== undefined && value !== null && value !== "");
  return h(
    "dl",
    { class: "facts" },
    items.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function bar(value, text) {
  const fill = h("span", { class: "bar-fill" });
  fill.style.setProperty("--value", String(Math.max(0, Math.min(1, value))));
  return h("span", { class: "bar", role: "img", "aria-label": text ?? percent(value) }, fill);
}

function featureResult(image, name) {
  return image.features?.[name]?.result ?? null;
}

// -- sections ------------------------------------------------------------------------------------

// What went wrong with a feature, in words: the server's own message of a failure names
// exception types (`ValueError: …`), so it stays in a tooltip, for support requests.
const FAILURES = {
  AnalyzerError: "This analysis stopped on an unexpected error. Reprocess the image to try again; if it fails again, the server's log says why.",
  JobFailed: "The analysis did not finish after several tries. Reprocess the image to try again.",
  ImageTooLarge: "The file is larger than this server analyses.",
  ImageDimensionsTooLarge: "The picture has more pixels than this server analyses.",
  ImageMemoryTooLarge: "The picture needs more memory to analyse than this server allows.",
  InvalidImageFormat: "The file is damaged or not a picture this server can read.",
};

function featureProblem(feature) {
  if (feature.status === "skipped") {
    // A skip reason is written for people; an empty analyzer means none is installed, and
    // that reason names the feature by its internal name.
    if (!feature.analyzer) return h("p", { class: "note" }, "This server has no analyzer for it installed.");
    const reason = feature.result?.reason ?? feature.error?.message;
    return reason ? h("p", { class: "note" }, reason) : null;
  }
  if (feature.status !== "failed") return null;
  const technical = feature.error?.message ?? "";
  return h(
    "p",
    { class: "error-text", title: technical || null },
    FAILURES[feature.error?.code] ?? "This analysis failed. Reprocess the image to try again.",
  );
}

function featuresPanel(image) {
  const rows = Object.entries(image.features)
    .map(([name, feature]) => [featureLabel(name), feature])
    .sort(([a], [b]) => a.localeCompare(b));
  return panel(
    "Analysis",
    h(
      "ul",
      { class: "feature-list" },
      rows.map(([label, feature]) =>
        h(
          "li",
          {},
          h("span", { class: "feature-name" }, label),
          badge(feature.status, statusLabel(feature.status)),
          feature.version
            ? h("span", { class: "muted small", title: `Analyzer version ${feature.version}` }, versionLabel(feature.version))
            : null,
          featureProblem(feature),
        ),
      ),
    ),
  );
}

const SOURCE_NAMES = {
  read: "text read",
};

/**
 * Tags most confident first (a stable sort: equally sure tags keep the server's order, the
 * more specific first). Both shapes are read: `{name, confidence, source, broader}` and the
 * older `{name, confidence, kind}`, whose broader words were tags of their own.
 */
export function orderedTags(tags) {
  return [...tags].sort((a, b) => (b.confidence ?? 0) - (a.confidence ?? 0));
}

function tagLink(name, className) {
  return h("a", { href: `#/?tag=${encodeURIComponent(name)}`, class: className, title: `Images tagged ${name}` }, name);
}

function tagRow(tag) {
  const source =
    tag.source && tag.source !== "imagenet" ? SOURCE_NAMES[tag.source] ?? featureLabel(tag.source).toLowerCase() : null;
  const broader = tag.broader ?? [];
  return h(
    "li",
    { dataset: { source: tag.source ?? tag.kind ?? "" } },
    tagLink(tag.name, "tag-name"),
    tag.kind === "broader" ? h("span", { class: "pill" }, "broader") : null,
    source ? h("span", { class: "pill", title: `Found from the ${source} feature` }, `from ${source}`) : null,
    bar(tag.confidence, `${tag.name}: ${percent(tag.confidence)}`),
    h("span", { class: "value" }, percent(tag.confidence)),
    broader.length
      ? h(
          "span",
          { class: "broader" },
          "a kind of ",
          ...broader.flatMap((name, index) => [index ? ", " : "", tagLink(name)]),
        )
      : null,
  );
}

function tagsPanel(image) {
  const tags = featureResult(image, "tags");
  if (!tags) return null;
  const tagRows = orderedTags(tags.tags ?? []);
  const classes = tags.classes ?? [];
  return panel(
    "Tags",
    tagRows.length
      ? h("ul", { class: "confidence-list tags-list" }, tagRows.map(tagRow))
      : h("p", { class: "muted" }, "No tag is sure enough to show."),
    classes.length
      ? h(
          "details",
          { class: "subtle" },
          h("summary", {}, "Top ImageNet classes"),
          h(
            "ul",
            { class: "confidence-list" },
            classes.map((item) =>
              h(
                "li",
                {},
                h("span", { class: "tag-name" }, item.name),
                bar(item.confidence, `${item.name}: ${percent(item.confidence)}`),
                h("span", { class: "value" }, percent(item.confidence, 1)),
              ),
            ),
          ),
        )
      : null,
  );
}

function labelsPanel(image) {
  const entries = Object.entries(image.features).filter(
    ([name, feature]) => (name.startsWith("custom:") || name.startsWith("model:")) && feature.result?.labels,
  );
  if (!entries.length) return null;
  return panel(
    "Custom labels",
    entries.map(([name, feature]) => {
      const predicted = new Set(feature.result.predicted ?? []);
      const classifier = name.startsWith("custom:") ? name.slice(7) : null;
      return h(
        "div",
        { class: "label-group" },
        h(
          "h3",
          {},
          classifier ? h("a", { href: `#/classifiers/${encodeURIComponent(classifier)}` }, classifier) : featureLabel(name),
        ),
        h(
          "ul",
          { class: "confidence-list" },
          feature.result.labels.map((label) =>
            h(
              "li",
              { class: predicted.has(label.name) ? "predicted" : null },
              h("a", { href: `#/?label=${encodeURIComponent(label.name)}`, class: "tag-name" }, label.name),
              predicted.has(label.name) ? h("span", { class: "pill accent" }, "predicted") : null,
              bar(label.confidence, `${label.name}: ${percent(label.confidence)}`),
              h("span", { class: "value" }, percent(label.confidence)),
            ),
          ),
        ),
      );
    }),
  );
}

function textPanel(image, highlight) {
  const read = featureResult(image, "read");
  if (!read) return null;
  if (!read.lines?.length) return panel("Text", h("p", { class: "muted" }, "No text was found."));
  return panel(
    "Text",
    h(
      "div",
      { class: "panel-tools" },
      h("span", { class: "muted small" }, `${read.lines.length} lines`, read.orientation?.angle ? `, turned ${read.orientation.angle}°` : ""),
      copyButton(read.text, "Copy text"),
    ),
    h(
      "ol",
      { class: "ocr-lines" },
      read.lines.map((line, index) => {
        const item = h(
          "li",
          { tabindex: "0", dataset: { line: String(index) } },
          h("span", { class: "ocr-text" }, line.text),
          h("span", { class: "value muted" }, percent(line.confidence)),
        );
        for (const type of ["mouseenter", "focus"]) item.addEventListener(type, () => highlight(index));
        for (const type of ["mouseleave", "blur"]) item.addEventListener(type, () => highlight(null));
        return item;
      }),
    ),
  );
}

function colorsPanel(image) {
  const color = featureResult(image, "color");
  if (!color) return null;
  const swatch = (hex, label, fraction) => {
    const chip = h("span", { class: "swatch-chip" });
    chip.style.setProperty("--swatch", hex.startsWith("#") ? hex : `#${hex}`);
    const item = h(
      "li",
      { class: "swatch" },
      chip,
      h("span", { class: "swatch-name" }, label),
      h("code", { class: "swatch-hex" }, (hex.startsWith("#") ? hex : `#${hex}`).toUpperCase()),
      fraction !== undefined ? h("span", { class: "value muted" }, percent(fraction)) : null,
    );
    return item;
  };
  return panel(
    "Colours",
    h(
      "ul",
      { class: "swatches", "aria-label": "Palette" },
      (color.palette ?? []).map((entry) => swatch(entry.hex, entry.name, entry.fraction)),
    ),
    definitionList([
      ["Accent", color.accent_color ? h("ul", { class: "swatches inline" }, swatch(color.accent_color, "accent")) : null],
      ["Foreground", color.dominant_color_foreground],
      ["Background", color.dominant_color_background],
      ["Dominant", (color.dominant_colors ?? []).join(", ")],
      ["Black and white", color.is_black_and_white ? "Yes" : "No"],
    ]),
  );
}

function qualityPanel(image) {
  const type = featureResult(image, "image_type");
  const quality = featureResult(image, "quality");
  if (!type && !quality) return null;
  const flag = (on, yes, no) => h("span", { class: on ? "flag warn" : "flag ok" }, on ? yes : no);
  return panel(
    "Type and quality",
    definitionList([
      ["Type", type ? `${imageTypeLabel(type.type)} (${percent(type.scores?.[type.type])})` : null],
      ["Quality", quality ? h("span", { class: "inline-bar" }, bar(quality.score), percent(quality.score)) : null],
      ["Sharpness", quality ? flag(quality.sharpness?.blurry, "Blurry", "Sharp") : null],
      [
        "Exposure",
        quality
          ? flag(
              quality.exposure?.underexposed || quality.exposure?.overexposed,
              quality.exposure?.underexposed ? "Underexposed" : "Overexposed",
              "Well exposed",
            )
          : null,
      ],
      ["Noise", quality ? flag(quality.noise?.noisy, "Noisy", "Clean") : null],
      ["Contrast", quality ? flag(quality.contrast?.low_contrast, "Low contrast", "Good contrast") : null],
    ]),
  );
}

function detailsPanel(image) {
  const hash = featureResult(image, "hash");
  const metadata = Object.keys(image.metadata ?? {}).length
    ? h("pre", { class: "code small" }, JSON.stringify(image.metadata, null, 2))
    : null;
  return panel(
    "Details",
    definitionList([
      ["File name", image.filename],
      ["Id", h("code", {}, image.id)],
      ["Format", `${image.format} (${image.content_type})`],
      ["Dimensions", `${image.width} × ${image.height} px`],
      ["Size", formatBytes(image.size)],
      ["Uploaded", h("span", {}, absoluteTime(image.created_at), " · ", timeEl(image.created_at))],
      ["Updated", timeEl(image.updated_at)],
      ["SHA-256", h("code", { class: "hash", title: image.sha256 }, image.sha256)],
      ["Perceptual hash", hash ? h("code", {}, hash.phash) : null],
      ["Same bytes as", image.duplicate_of ? h("a", { href: `#/images/${image.duplicate_of}` }, image.duplicate_of) : null],
      ["Your metadata", metadata],
    ]),
  );
}

function exifPanel(image) {
  const metadata = featureResult(image, "metadata");
  if (!metadata) return null;
  const exif = metadata.exif;
  const technical = definitionList([
    ["Colour mode", `${metadata.mode}, ${metadata.bit_depth}-bit${metadata.has_alpha ? ", alpha" : ""}`],
    ["Frames", metadata.animated ? `${metadata.frames} (animated)` : null],
    ["Colour profile", metadata.icc_profile ? "Embedded ICC profile" : "None"],
    ["DPI", metadata.dpi ? metadata.dpi.join(" × ") : null],
  ]);
  if (!exif) return panel("Metadata", technical, h("p", { class: "muted" }, "No EXIF data."));
  const gps = exif.gps;
  const gpsText = gps && gps.latitude !== null && gps.latitude !== undefined
    ? `${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)}${gps.altitude !== null && gps.altitude !== undefined ? ` · ${Math.round(gps.altitude)} m` : ""}`
    : null;
  const otherTags = Object.entries(exif.tags ?? {});
  return panel(
    "Metadata",
    technical,
    h("h3", {}, "EXIF"),
    definitionList([
      ["Camera", [exif.camera_make, exif.camera_model].filter(Boolean).join(" ")],
      ["Lens", exif.lens_model],
      ["Taken", exif.taken_at],
      ["Exposure", exif.exposure_time],
      ["Aperture", exif.f_number ? `f/${exif.f_number}` : null],
      ["ISO", exif.iso],
      ["Focal length", exif.focal_length ? `${exif.focal_length} mm` : null],
      ["Orientation", exif.orientation],
      ["Software", exif.software],
      [
        "Location",
        gpsText
          ? h(
              "a",
              {
                href: `https://www.openstreetmap.org/?mlat=${gps.latitude}&mlon=${gps.longitude}#map=15/${gps.latitude}/${gps.longitude}`,
                target: "_blank",
                rel: "noopener noreferrer",
              },
              gpsText,
            )
          : null,
      ],
    ]),
    otherTags.length
      ? h(
          "details",
          { class: "subtle" },
          h("summary", {}, `${otherTags.length} more EXIF tags`),
          definitionList(otherTags.map(([key, value]) => [key, typeof value === "object" ? JSON.stringify(value) : String(value)])),
        )
      : null,
  );
}

// The server says which vector is missing in its own terms; people read what to do.
const SEARCH_UNAVAILABLE =
  "Similar images are found once this image is analysed for similarity: reprocess it to do that.";

function relatedPanel(title, loader, emptyText, signal) {
  const body = h("div", { class: "related" }, spinner(`Loading ${title.toLowerCase()}`));
  loader(signal)
    .then((items) => {
      if (!items.length) {
        clear(body, h("p", { class: "muted" }, emptyText));
        return;
      }
      clear(body, h("ul", { class: "mini-grid" }, items.map(([image, caption]) => miniCard(image, caption))));
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      const text = error.code === "SearchUnavailable" ? SEARCH_UNAVAILABLE : error.message;
      clear(body, h("p", { class: "muted", title: error.code === "SearchUnavailable" ? error.message : null }, text));
    });
  return panel(title, body);
}

function rawPanel(image) {
  const id = "raw-json";
  const pre = h("pre", { class: "code" });
  // Image JSON comes without vectors (the API leaves them out unless asked): short enough whole.
  const render = () => {
    pre.textContent = JSON.stringify(image, null, 2);
  };
  const details = h(
    "details",
    { class: "raw", open: openDetails.has(id) },
    h("summary", {}, "Raw JSON"),
    h(
      "div",
      { class: "panel-tools" },
      h("a", { href: `v1/images/${image.id}`, target: "_blank", rel: "noopener", class: "button small ghost" }, icon("external"), "Open"),
      copyButton(() => JSON.stringify(image, null, 2), "Copy"),
    ),
    pre,
  );
  details.addEventListener("toggle", () => {
    if (details.open) {
      openDetails.add(id);
      render();
    } else openDetails.delete(id);
  });
  if (details.open) render();
  return h("section", { class: "panel" }, details);
}

// -- page ----------------------------------------------------------------------------------------

export async function renderImage({ main, params, signal }) {
  const id = encodeURIComponent(params[0]); // from the address bar: never a path of its own
  let image = await api(`v1/images/${id}`, { signal });
  let related = null; // panels that fetch their own data, kept across live re-renders
  let facesPanel = null; // the same, for images analysed for face descriptors
  let highlightFace = () => {}; // marks a face on the picture on screen

  const viewer = h("div", { class: "viewer" });
  const panels = h("div", { class: "panels" });
  const head = h("div", { class: "page-head" });

  async function reprocess() {
    try {
      image = await api(`v1/images/${id}/reprocess`, { method: "POST", json: {} });
      toast("Analysing again. The results update here when it finishes.");
      render();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function remove() {
    const ok = await confirmDialog({
      title: "Delete this image?",
      message: `${displayName(image)}, its results and thumbnails will be removed. This cannot be undone.`,
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`v1/images/${id}`, { method: "DELETE" });
      toast(`Deleted ${displayName(image)}.`);
      location.hash = "#/";
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // Built once: the picture is not loaded again, and the zoom stays, when results arrive.
  const picture = h("img", {
    src: `v1/images/${image.id}/content`,
    alt: displayName(image),
    class: "original",
    width: image.width,
    height: image.height,
    draggable: "false",
  });
  const canvas = h("div", { class: "zoom-canvas" }, picture);
  const stage = h(
    "figure",
    { class: "stage", tabindex: "0", "aria-label": "Picture: scroll, pinch or double-click to zoom, drag to move" },
    canvas,
  );
  const zoom = zoomable(stage, canvas);
  signal.addEventListener("abort", zoom.dispose);

  function renderViewer() {
    const layers = layersOf(image);
    canvas.querySelector(".overlay")?.remove();
    let svg = null;
    if (layers.length) {
      svg = overlaySvg(image, layers, enabledLayers);
      canvas.append(svg);
    }
    const toggles = layers.map((layer) => {
      const input = h("input", {
        type: "checkbox",
        checked: enabledLayers.has(layer.key) && layer.count > 0,
        disabled: layer.count === 0,
        dataset: { layer: layer.key },
      });
      input.addEventListener("change", () => {
        if (input.checked) enabledLayers.add(layer.key);
        else enabledLayers.delete(layer.key);
        const group = svg.querySelector(`[data-layer="${layer.key}"]`);
        if (input.checked) group.removeAttribute("display");
        else group.setAttribute("display", "none");
        svg.setAttribute("aria-label", describe(layers, enabledLayers));
      });
      return h(
        "label",
        { class: ["toggle", `toggle-${layer.key}`] },
        input,
        h("span", { class: "toggle-track", "aria-hidden": "true" }),
        h("span", { class: "toggle-label" }, layer.title),
        h("span", { class: "count" }, layer.count === 0 ? "none" : String(layer.count)),
      );
    });
    // Above the picture, so that they are in reach however tall the picture is.
    clear(
      viewer,
      h(
        "div",
        { class: "viewer-bar" },
        layers.length
          ? h("fieldset", { class: "overlay-toggles" }, h("legend", {}, "Overlays"), toggles)
          : h("p", { class: "muted small overlay-note" }, image.status === "done" || image.status === "failed"
              ? "No faces, objects, people or text were looked for in this image."
              : "Overlays appear here when the analysis finishes."),
        zoom.controls,
      ),
      stage,
    );
    return svg;
  }

  function render() {
    document.title = `${displayName(image)} · Sightline`;
    clear(
      head,
      h(
        "div",
        { class: "title-block" },
        h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, icon("chevron-left"), "Images")),
        h("h1", { class: "truncate", title: displayName(image) }, displayName(image)),
        h("div", { class: "subtitle" }, badge(image.status, statusLabel(image.status)), h("span", { class: "muted" }, `${image.width} × ${image.height} · ${formatBytes(image.size)} · uploaded `, timeEl(image.created_at))),
      ),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button ghost", href: `v1/images/${image.id}/content`, download: image.filename || image.id }, icon("download"), h("span", {}, "Download")),
        h("button", { type: "button", onclick: reprocess }, icon("refresh"), h("span", {}, "Reprocess")),
        h("button", { type: "button", class: "danger", onclick: remove }, icon("trash"), h("span", {}, "Delete")),
      ),
    );
    const svg = renderViewer();
    const highlight = (index) => {
      for (const shape of svg?.querySelectorAll(".layer-text polygon") ?? []) {
        shape.classList.toggle("highlight", shape.dataset.line === String(index));
      }
    };
    highlightFace = (box) => {
      const key = box ? boxKey(box) : null;
      for (const group of svg?.querySelectorAll(".layer-faces .item") ?? []) {
        group.classList.toggle("highlight", group.dataset.box === key);
      }
    };
    if (!related) {
      facesPanel = featureResult(image, "face_embedding")
        ? panel("Faces", imageFaces(image.id, (box) => highlightFace(box), signal))
        : null;
      related = [
        relatedPanel(
          "Similar images",
          async (abort) => {
            const answer = await api(`v1/images/${id}/similar`, { query: { limit: 12, results: CARD_RESULTS }, signal: abort });
            return answer.items.filter((item) => item.image.id !== id).map((item) => [item.image, percent(item.score)]);
          },
          "No similar images yet.",
          signal,
        ),
        relatedPanel(
          "Near-duplicates",
          async (abort) => {
            const answer = await api(`v1/images/${id}/duplicates`, { query: { results: CARD_RESULTS }, signal: abort });
            return answer.items.map((item) => [item.image, item.distance === 0 ? "identical" : `distance ${item.distance}`]);
          },
          "No near-duplicates.",
          signal,
        ),
      ];
    }
    clear(
      panels,
      tagsPanel(image),
      facesPanel,
      labelsPanel(image),
      textPanel(image, highlight),
      colorsPanel(image),
      qualityPanel(image),
      ...related,
      detailsPanel(image),
      exifPanel(image),
      featuresPanel(image),
      rawPanel(image),
    );
    if (!panels.children.length) panels.append(emptyState({ title: "No results yet", text: "The analysis has not produced anything yet." }));
  }

  const page = h("article", { class: "image-page" }, head, h("div", { class: "image-layout" }, viewer, panels));
  clear(main, page);
  render();

  // Follow this image live: a finished (re)analysis re-renders with its results.
  let timer = null;
  const stop = events.on((envelope) => {
    if (imageIdOf(envelope) !== id) return;
    if (envelope.type === "sightline.image.deleted") {
      toast(`${displayName(image)} was deleted.`);
      location.hash = "#/";
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        image = await api(`v1/images/${id}`, { signal });
        const finished = envelope.type !== "sightline.image.reprocess_requested";
        if (finished) related = null; // new vectors may change the neighbours
        render();
      } catch {
        // the next event, or a reload, tries again
      }
    }, 100);
  });
  signal.addEventListener("abort", () => {
    stop();
    clearTimeout(timer);
  });
}
