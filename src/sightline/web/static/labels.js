// The words people read for the API's internal names: features, image types, statuses and
// analyzer versions. Every page takes its labels from here, so one name reads the same everywhere.

const FEATURES = {
  metadata: "File details",
  color: "Colours",
  hash: "Fingerprint",
  thumbnail: "Thumbnails",
  tags: "Tags",
  embedding: "Similarity vector",
  semantic: "Meaning vector",
  read: "Text (OCR)",
  faces: "Faces",
  people: "People",
  objects: "Objects",
  adult: "Sensitive content",
  image_type: "Image type",
  quality: "Quality",
  smart_crop: "Smart crop",
};

const IMAGE_TYPES = {
  photo: "Photo",
  clip_art: "Clip art",
  line_drawing: "Line drawing",
  document: "Document",
  screenshot: "Screenshot",
  chart: "Chart",
  logo: "Logo",
};

const STATUSES = {
  pending: "Waiting",
  processing: "Analysing",
  done: "Analysed",
  failed: "Failed",
  skipped: "Not applicable",
  running: "Analysing",
};

function humanize(name) {
  const words = String(name).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Image type" for `image_type`; a classifier's `custom:NAME` reads as its name. */
export function featureLabel(name) {
  if (name.startsWith("custom:")) return humanize(name.slice("custom:".length));
  if (name.startsWith("model:")) return humanize(name.slice("model:".length));
  return FEATURES[name] ?? humanize(name);
}

export function imageTypeLabel(type) {
  return IMAGE_TYPES[type] ?? humanize(type);
}

export function statusLabel(status) {
  return STATUSES[status] ?? humanize(status);
}

/**
 * An analyzer version such as `v1-1+1` is for support requests, not for reading: only its
 * first part is shown (`version 1`), the whole one stays in a tooltip.
 */
export function versionLabel(version) {
  const major = /^v?(\d+)/.exec(String(version ?? ""));
  return major ? `version ${major[1]}` : "";
}
