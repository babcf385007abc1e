/*
 * presigned_transfers: the shared core of the browser script.
 *
 * Texts (English fallbacks; {% presigned_transfers_script %} passes translations), format(),
 * UploadError, the CSRF token, check() against a policy, JSON requests to the Django app and
 * the one XMLHttpRequest helper every transport sends bytes to the bucket with.
 * A classic script; registers on window.PresignedTransfers.core. Load order and the other files:
 * see presigned_transfers.js.
 */
(() => {
  "use strict";

  /** A syntactically valid upload id in the picker's URL templates, replaced by a real one. */
  const ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  // English fallbacks; {% presigned_transfers_script %} replaces them with translations.
  const messages = {
    type_not_allowed: "Files of type “%(type)s” are not allowed. Allowed: %(allowed)s.",
    unknown_type: "unknown",
    too_large: "The file is too large: the limit is %(limit)s.",
    too_small: "The file is too small: it must be at least %(limit)s.",
    network:
      "The file could not be sent to the storage service: the connection failed, or the " +
      "storage service does not accept uploads from this site (CORS).",
    storage_refused: "The storage service refused the file (HTTP %(status)s).",
    server_unreachable: "The server could not be reached. Check your connection and try again.",
    server_error: "The server could not handle the request (HTTP %(status)s). Try again later.",
    confirm_failed: "The file was sent but could not be confirmed: %(message)s",
    file_error: "%(name)s: %(message)s",
    file_unreadable:
      "The file could not be read: it may have been changed or moved. Choose it again.",
    checksum_unavailable:
      "This browser cannot compute the file's checksum here (it needs a secure HTTPS page).",
    transport_unsupported:
      "The server asked for an upload method this page cannot use (%(transport)s).",
    waiting: "Waiting…",
    preparing: "Preparing…",
    resuming: "Resuming…",
    retrying: "Connection problem, trying again…",
    uploading: "Uploading %(name)s…",
    resuming_status: "Resuming the upload of %(name)s…",
    percent: "%(percent)s%%",
    confirming: "Checking…",
    done: "Uploaded",
    done_status: "%(name)s uploaded.",
    cancelled: "Cancelled",
    cancelled_status: "Upload of %(name)s cancelled.",
    cancel: "Cancel",
    cancel_label: "Cancel the upload of %(name)s",
    remove: "Remove",
    remove_label: "Remove %(name)s from the form",
    download: "Download",
    download_label: "Download %(name)s",
    download_failed: "The download could not start: %(message)s",
    busy: "Wait until the uploads finish, or cancel them, before submitting.",
  };

  /** The <script> that carries data-messages and data-csrf-token (see configure()). */
  let carrier = null;

  /**
   * Fill Python-style "%(name)s" placeholders ("%%" is a literal percent sign).
   *
   * @param {string} text
   * @param {Record<string, unknown>} [values]
   * @returns {string}
   */
  function format(text, values) {
    return String(text).replace(/%(?:\((\w+)\)s|%)/g, (match, key) => {
      if (!key) return "%";
      return values && Object.prototype.hasOwnProperty.call(values, key)
        ? String(values[key])
        : match;
    });
  }

  /**
   * Every failure: `code` is the server's error code or one of "network", "storage_refused",
   * "server_unreachable", "server_error", "cancelled", "file_unreadable",
   * "checksum_unavailable", "transport_unsupported"; `message` is ready to show.
   */
  class UploadError extends Error {
    /**
     * @param {string} code
     * @param {string} message
     * @param {{status?: number, details?: object, stage?: string, retryAfter?: number}} [options]
     */
    constructor(code, message, options = {}) {
      super(message);
      this.name = "UploadError";
      /** @type {string} */
      this.code = code;
      /** @type {number} HTTP status, 0 if none */
      this.status = options.status || 0;
      /** @type {Record<string, any>} */
      this.details = options.details || {};
      /** @type {string} signing, storage, confirm, check, download, ... */
      this.stage = options.stage || "";
      /** @type {number | undefined} seconds, from a Retry-After header */
      this.retryAfter = options.retryAfter;
    }
  }

  /**
   * The page's CSRF token: from {% presigned_transfers_script %}, a {% csrf_token %} input, or
   * Django's cookie.
   *
   * @returns {string}
   */
  function csrfToken() {
    if (carrier && carrier.dataset.csrfToken) return carrier.dataset.csrfToken;
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /**
   * Check a File against a policy ({contentTypes, minSize, maxSize, ...}).
   *
   * @param {File} file
   * @param {{contentTypes?: string[], minSize?: number, maxSize?: number,
   *   allowedText?: string, minSizeText?: string, maxSizeText?: string}} [rules]
   * @returns {UploadError | null} null if the file is fine
   */
  function check(file, rules) {
    if (!rules) return null;
    const type = (file.type || "").split(";")[0].trim().toLowerCase();
    const types = rules.contentTypes || [];
    if (types.length && !types.includes(type)) {
      return new UploadError(
        "file_type_not_allowed",
        format(messages.type_not_allowed, {
          type: file.type || messages.unknown_type,
          allowed: rules.allowedText || types.join(", "),
        }),
        { status: 415, stage: "check", details: { allowed_types: types } }
      );
    }
    if (rules.maxSize != null && file.size > rules.maxSize) {
      return new UploadError(
        "file_too_large",
        format(messages.too_large, { limit: rules.maxSizeText || rules.maxSize }),
        { status: 413, stage: "check", details: { max_size: rules.maxSize } }
      );
    }
    if (rules.minSize != null && file.size < rules.minSize) {
      return new UploadError(
        "file_too_small",
        format(messages.too_small, { limit: rules.minSizeText || rules.minSize }),
        { status: 422, stage: "check", details: { min_size: rules.minSize } }
      );
    }
    return null;
  }

  /**
   * A JSON request to the Django app.
   *
   * @param {string} method
   * @param {string} url
   * @param {unknown} [body] sent as JSON
   * @param {{stage?: string, csrfToken?: string, signal?: AbortSignal}} [options]
   * @returns {Promise<any>} the answer's body; rejects with an UploadError
   */
  async function requestJson(method, url, body = undefined, options = {}) {
    const stage = options.stage || "";
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = options.csrfToken || csrfToken();
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        signal: options.signal,
      });
    } catch (error) {
      if (isAbort(error)) throw cancelledError(stage);
      throw new UploadError("server_unreachable", messages.server_unreachable, { stage });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      if (isAbort(error)) throw cancelledError(stage);
    }
    if (response.ok && data) return data;
    const retryAfter = Number(response.headers.get("Retry-After")) || undefined;
    if (data && data.error && data.error.message) {
      throw new UploadError(data.error.code, data.error.message, {
        status: response.status,
        details: data.error.details,
        stage,
        retryAfter,
      });
    }
    throw new UploadError(
      "server_error",
      format(messages.server_error, { status: response.status }),
      { status: response.status, stage, retryAfter }
    );
  }

  /**
   * Send bytes to the bucket with XMLHttpRequest (not fetch: it reports upload progress).
   *
   * @param {string} method "POST" or "PUT"
   * @param {string} url a presigned URL
   * @param {Blob | FormData} body
   * @param {{expect: number, headers?: Record<string, string>, signal?: AbortSignal,
   *   onProgress?: (loaded: number, total: number) => void}} options `expect` is the one
   *   status that means stored (204 for POST, 200 for PUT)
   * @returns {Promise<XMLHttpRequest>} rejects with an UploadError ("storage_refused" with
   *   `details.storage_code` / `storage_message` when S3's answer was readable, "network",
   *   "cancelled")
   */
  function sendToStorage(method, url, body, options) {
    return new Promise((resolve, reject) => {
      const { signal, onProgress } = options;
      if (signal && signal.aborted) {
        reject(cancelledError("storage"));
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [name, value] of Object.entries(options.headers || {})) {
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
      });
      const abort = () => xhr.abort();
      const settle = (callback) => {
        if (signal) signal.removeEventListener("abort", abort);
        callback();
      };
      xhr.addEventListener("load", () =>
        settle(() => {
          if (xhr.status === options.expect) {
            resolve(xhr);
            return;
          }
          const code = storageErrorField(xhr, "Code");
          reject(
            new UploadError(
              "storage_refused",
              format(messages.storage_refused, {
                status: code ? `${xhr.status}, ${code}` : xhr.status,
              }),
              {
                status: xhr.status,
                stage: "storage",
                details: { storage_code: code, storage_message: storageErrorField(xhr, "Message") },
              }
            )
          );
        })
      );
      const failed = () =>
        settle(() => reject(new UploadError("network", messages.network, { stage: "storage" })));
      xhr.addEventListener("error", failed);
      xhr.addEventListener("timeout", failed);
      xhr.addEventListener("abort", () => settle(() => reject(cancelledError("storage"))));
      if (signal) signal.addEventListener("abort", abort, { once: true });
      xhr.send(body);
    });
  }

  /**
   * The UploadError of a cancel.
   *
   * @param {string} [stage]
   * @returns {UploadError}
   */
  function cancelledError(stage = "") {
    return new UploadError("cancelled", messages.cancelled, { stage });
  }

  /**
   * True for an aborted fetch, an AbortError of logic.js, or a cancelled UploadError.
   *
   * @param {any} error
   * @returns {boolean}
   */
  function isAbort(error) {
    return Boolean(error) && (error.name === "AbortError" || error.code === "cancelled");
  }

  /**
   * Rejects with the cancel's UploadError if `signal` has aborted.
   *
   * @param {AbortSignal | undefined} signal
   * @param {string} stage
   */
  function throwIfAborted(signal, stage) {
    if (signal && signal.aborted) throw cancelledError(stage);
  }

  /**
   * Any failure as an UploadError: aborts become "cancelled", a File that cannot be read
   * (changed or moved since it was chosen) "file_unreadable".
   *
   * @param {any} error
   * @param {string} stage
   * @returns {UploadError}
   */
  function asUploadError(error, stage) {
    if (error instanceof UploadError) return error;
    if (isAbort(error)) return cancelledError(stage);
    if (error && (error.name === "NotReadableError" || error.name === "NotFoundError")) {
      return new UploadError("file_unreadable", messages.file_unreadable, { stage });
    }
    return new UploadError("error", String((error && error.message) || error), { stage });
  }

  /**
   * Take the translated texts and the CSRF token from the <script> element that carries
   * `data-messages` / `data-csrf-token` (presigned_transfers.js calls this for itself).
   *
   * @param {HTMLScriptElement | null} script
   */
  function configure(script) {
    if (!script) return;
    carrier = script;
    if (script.dataset.messages) {
      try {
        Object.assign(messages, JSON.parse(script.dataset.messages));
      } catch {
        // Keep the English texts.
      }
    }
  }

  /** The text of an element of S3's XML error body, if the bucket's CORS let us read it. */
  function storageErrorField(xhr, name) {
    let text = "";
    try {
      text = xhr.responseText || "";
    } catch {
      return "";
    }
    const match = new RegExp(`<${name}>([^<]{1,200})</${name}>`).exec(text);
    return match ? match[1] : "";
  }

  const ns = (window.PresignedTransfers = window.PresignedTransfers || {});
  ns.core = {
    ID_PLACEHOLDER,
    messages,
    format,
    UploadError,
    csrfToken,
    check,
    requestJson,
    sendToStorage,
    cancelledError,
    isAbort,
    throwIfAborted,
    asUploadError,
    configure,
  };
})();
