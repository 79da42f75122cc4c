// Overlays drawn over the original picture: face, object, person, text and smart-crop boxes, as
// SVG in the picture's own pixel coordinates (every result repeats the width and height it used).

import { percent, s } from "./dom.js";

// COCO keypoint pairs joined in a skeleton.
const SKELETON = [
  ["left_shoulder", "right_shoulder"],
  ["left_shoulder", "left_elbow"],
  ["left_elbow", "left_wrist"],
  ["right_shoulder", "right_elbow"],
  ["right_elbow", "right_wrist"],
  ["left_shoulder", "left_hip"],
  ["right_shoulder", "right_hip"],
  ["left_hip", "right_hip"],
  ["left_hip", "left_knee"],
  ["left_knee", "left_ankle"],
  ["right_hip", "right_knee"],
  ["right_knee", "right_ankle"],
];

function result(image, feature) {
  const entry = image.features?.[feature];
  return entry?.result ?? null;
}

/** The overlay layers this image has: [{key, title, count, draw(size) -> <g>}]. */
export function layersOf(image) {
  const layers = [];
  const faces = result(image, "faces");
  if (faces?.faces) {
    layers.push({
      key: "faces",
      title: "Faces",
      count: faces.faces.length,
      size: faces,
      shapes: () =>
        faces.faces.map((face, index) => {
          const group = box(face.box, `Face ${index + 1}, ${percent(face.confidence)}`, null, [
            ...Object.values(face.landmarks ?? {}).map((point) =>
              s("circle", { cx: point.x, cy: point.y, r: 1, class: "landmark" }),
            ),
          ]);
          group.dataset.box = boxKey(face.box); // the faces panel marks a face by its box
          return group;
        }),
    });
  }
  const objects = result(image, "objects");
  const detected = objects?.detectors?.flatMap((detector) => detector.objects) ?? [];
  const adult = result(image, "adult");
  if (objects?.detectors || adult?.detections) {
    const found = [
      ...detected.map((o) => ({ ...o, source: "object" })),
      ...(adult?.detections ?? [])
        .filter((d) => d.category !== "none")
        .map((d) => ({ ...d, label: `${d.label} (${d.category})`, source: "adult" })),
    ];
    layers.push({
      key: "objects",
      title: "Objects",
      count: found.length,
      size: objects ?? adult,
      shapes: (scale) =>
        found.map((o) => box(o.box, `${o.label}, ${percent(o.confidence)}`, `${o.label} ${percent(o.confidence)}`, [], scale)),
    });
  }
  const people = result(image, "people");
  if (people?.people) {
    layers.push({
      key: "people",
      title: "People",
      count: people.people.length,
      size: people,
      shapes: () =>
        people.people.map((person, index) => {
          const points = Object.fromEntries(
            person.keypoints.filter((k) => k.confidence >= 0.3).map((k) => [k.name, k]),
          );
          const bones = SKELETON.filter(([a, b]) => points[a] && points[b]).map(([a, b]) =>
            s("line", { x1: points[a].x, y1: points[a].y, x2: points[b].x, y2: points[b].y, class: "bone" }),
          );
          return box(person.box, `Person ${index + 1}, ${percent(person.confidence)}`, null, bones);
        }),
    });
  }
  const read = result(image, "read");
  if (read?.lines) {
    layers.push({
      key: "text",
      title: "Text lines",
      count: read.lines.length,
      size: read,
      shapes: () =>
        read.lines.map((line, index) =>
          s(
            "polygon",
            {
              points: line.polygon.map((p) => `${p.x},${p.y}`).join(" "),
              class: "shape",
              dataset: { line: String(index) },
            },
            s("title", {}, `“${line.text}”, ${percent(line.confidence)}`),
          ),
        ),
    });
  }
  const smartCrop = result(image, "smart_crop");
  if (smartCrop?.crops) {
    layers.push({
      key: "crops",
      title: "Smart crops",
      count: smartCrop.crops.length,
      size: smartCrop,
      shapes: (scale) =>
        smartCrop.crops.map((crop, index) => {
          const ratio = ratioText(crop.aspect_ratio);
          const caption = cropCaption(crop.box, ratio, index, scale);
          return s(
            "g",
            { class: "item" },
            s("title", {}, `Smart crop ${ratio}${crop.contains_all_regions ? "" : ", leaves out some of what matters"}`),
            s("rect", { x: crop.box.x, y: crop.box.y, width: crop.box.w, height: crop.box.h, class: "shape" }),
            ...caption,
          );
        }),
    });
  }
  return layers;
}

/** A box as text, to find the overlay shape of a face listed elsewhere. */
export function boxKey(rect) {
  return `${rect.x},${rect.y},${rect.w},${rect.h}`;
}

/** 1.7778 reads "16:9": the smallest whole numbers with that ratio, else the decimal. */
export function ratioText(ratio) {
  for (let height = 1; height <= 20; height += 1) {
    const width = Math.round(ratio * height);
    if (width > 0 && Math.abs(width / height - ratio) < 0.005) return `${width}:${height}`;
  }
  return String(ratio);
}

// The largest crops of each ratio share a corner, so their captions are stacked down it
// instead of drawn over each other.
function cropCaption(rect, text, index, scale) {
  const size = 13 * scale;
  const x = rect.x + size * 0.4;
  const y = rect.y + size * 0.4 + index * size * 1.7;
  return [
    s("rect", { x, y, width: text.length * size * 0.62 + size, height: size * 1.5, class: "caption-bg" }),
    s("text", { x: x + size * 0.5, y: y + size * 1.1, "font-size": size, class: "caption" }, text),
  ];
}

function box(rect, title, caption, extra = [], scale = 1) {
  const group = s(
    "g",
    { class: "item" },
    s("title", {}, title),
    s("rect", { x: rect.x, y: rect.y, width: rect.w, height: rect.h, class: "shape", rx: 2 * scale }),
    ...extra,
  );
  if (caption) {
    const size = 13 * scale;
    group.append(
      s("rect", {
        x: rect.x,
        y: Math.max(0, rect.y - size * 1.5),
        width: Math.min(caption.length * size * 0.62 + size, 4000),
        height: size * 1.5,
        class: "caption-bg",
      }),
      s("text", { x: rect.x + size * 0.5, y: Math.max(size * 1.1, rect.y - size * 0.4), "font-size": size, class: "caption" }, caption),
    );
  }
  return group;
}

/** An <svg> over a picture of `width` × `height` pixels, one <g> per layer. */
export function overlaySvg(image, layers, enabled) {
  const width = layers[0]?.size?.width ?? image.width;
  const height = layers[0]?.size?.height ?? image.height;
  // Captions and strokes scale with the picture so they read the same at any size.
  const scale = Math.max(width, height) / 800;
  const svg = s("svg", {
    class: "overlay",
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": describe(layers, enabled),
  });
  svg.style.setProperty("--stroke", `${Math.max(1.5, 2.5 * scale)}px`);
  for (const layer of layers) {
    const group = s(
      "g",
      { class: ["layer", `layer-${layer.key}`], dataset: { layer: layer.key } },
      ...layer.shapes(scale),
    );
    if (!enabled.has(layer.key)) group.setAttribute("display", "none");
    svg.append(group);
  }
  return svg;
}

export function describe(layers, enabled) {
  const shown = layers.filter((layer) => enabled.has(layer.key) && layer.count);
  if (!shown.length) return "No overlays shown";
  return `Overlays: ${shown.map((layer) => `${layer.count} ${layer.title.toLowerCase()}`).join(", ")}`;
}
