// The API client of the web app: JSON requests, uploads with progress, and the live event
// stream. Every URL is relative, so the app also works behind a path prefix.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

let unauthorizedHandler = () => {};

/** Called with the error whenever the API answers 401: the app then asks for a key. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function url(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") params.append(key, String(item));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function errorFrom(status, body) {
  const error = body?.error;
  if (error) return new ApiError(status, error.code, error.message, error.details);
  return new ApiError(status, `Http${status}`, `The server answered ${status}.`);
}

/**
 * One request with a JSON answer; resolves with the parsed body (null for 204), rejects with an
 * ApiError. Its body: `json`, or `body` (a FormData of files, which sets its own type).
 */
export async function api(path, { method = "GET", query, json, body: content, signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  if (content !== undefined) init.body = content;
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, "NetworkError", "The server could not be reached. Check that it is running and try again.");
  }
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = errorFrom(response.status, body);
    if (response.status === 401) unauthorizedHandler(error);
    throw error;
  }
  return body;
}

/**
 * Upload one file; `onProgress(fraction)` follows the bytes sent. XMLHttpRequest, not fetch:
 * only it reports upload progress. Resolves with the stored image.
 */
export function uploadFile(file, { onProgress = () => {}, features } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url("v1/images", { features }));
    request.setRequestHeader("Accept", "application/json");
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve(request.response.images[0]);
        return;
      }
      const error = errorFrom(request.status, request.response);
      if (request.status === 401) unauthorizedHandler(error);
      reject(error);
    });
    request.addEventListener("error", () =>
      reject(new ApiError(0, "NetworkError", "The upload was interrupted: the server could not be reached.")),
    );
    request.addEventListener("abort", () => reject(new ApiError(0, "Aborted", "The upload was cancelled.")));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

// -- live events ---------------------------------------------------------------------------------

export const EVENT_TYPES = [
  "sightline.image.created",
  "sightline.image.reprocess_requested",
  "sightline.image.analyzed",
  "sightline.image.failed",
  "sightline.image.deleted",
  "sightline.classifier.training_requested",
  "sightline.classifier.trained",
  "sightline.classifier.training_failed",
  "sightline.classifier.backfill_requested",
  "sightline.index.rebuild_requested",
  "sightline.upload.rejected",
];

/**
 * One EventSource for the whole app (`GET /v1/events`), shared by every page through on().
 * EventSource reconnects by itself and resumes with Last-Event-ID; when the server refuses it
 * (a 401 closes it for good) we try again later.
 */
class EventStream {
  constructor() {
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.source = null;
    this.status = "offline";
    this.retryTimer = null;
  }

  start() {
    if (this.source) return;
    clearTimeout(this.retryTimer);
    const source = new EventSource("v1/events", { withCredentials: true });
    this.source = source;
    this.setStatus("connecting");
    source.addEventListener("open", () => this.setStatus("live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.setStatus("offline");
        this.retryTimer = setTimeout(() => this.start(), 5000);
      } else {
        this.setStatus("connecting");
      }
    });
    // Messages are named by their CloudEvents type, so each type needs its own listener.
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        let envelope;
        try {
          envelope = JSON.parse(message.data);
        } catch {
          return;
        }
        for (const listener of this.listeners) listener(envelope);
      });
    }
  }

  stop() {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
    this.setStatus("offline");
  }

  setStatus(status) {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  /** Calls `listener(envelope)` for every event; returns the function that stops it. */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener) {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }
}

export const events = new EventStream();

/** The image id in an event about an image, else null. */
export function imageIdOf(envelope) {
  const subject = envelope.subject ?? "";
  return subject.startsWith("images/") ? subject.slice("images/".length) : null;
}
