/*
 * presigned_transfers: upload straight to S3 from the browser, download through presigned URLs.
 *
 * No framework, no build step, no ES modules: classic deferred scripts that
 * {% presigned_transfers_script %} loads in this order, each with the page's CSP nonce, each
 * registering on window.PresignedTransfers:
 *
 *   core.js                  texts, format, UploadError, csrfToken, check, JSON requests, XHR
 *   logic.js                 pure logic (part plans, retry, pool, resume records, progress)
 *   transport-post.js        presigned POST           (transports.post)
 *   transport-put.js         one presigned PUT        (transports.put)
 *   transport-multipart.js   parallel parts, resume   (transports.multipart)
 *   presigned_transfers.js   this file: upload(), the picker, download links, the public API
 *
 * This tag carries the translated texts (data-messages) and the CSRF token (data-csrf-token).
 * It upgrades every element rendered by {% upload_picker %} and {% download_link %}. See the
 * README's "JavaScript" section.
 *
 * Upload flow: POST upload-url (JSON, CSRF; the server picks the transport) -> send the bytes
 * to the bucket as the answer says -> POST confirm-upload.
 */
(() => {
  "use strict";

  const ns = window.PresignedTransfers;
  if (!ns || !ns.core || !ns.logic || !ns.transports) {
    throw new Error(
      "presigned_transfers.js needs core.js, logic.js and the transport-*.js files loaded " +
        "before it: use {% presigned_transfers_script %}."
    );
  }
  const core = ns.core;
  const logic = ns.logic;
  const { messages, format, UploadError, check, csrfToken, requestJson, ID_PLACEHOLDER } = core;
  core.configure(document.currentScript);

  /** Files uploading at the same time in one picker. */
  const MAX_PARALLEL = 3;

  /** What the script can do, best first (upload-url's `transports`). */
  const DEFAULT_TRANSPORTS = ["multipart", "put", "post"];

  /** The whole file's SHA-256 is only computed up to this size (by default). */
  const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;

  // -- the public API -------------------------------------------------------------------------

  /**
   * @typedef {object} UploadOptions
   * @property {string} uploadUrl {% url 'presigned_transfers:upload-url' %}
   * @property {string} confirmUrl {% url 'presigned_transfers:confirm-upload' %}
   * @property {string} [detailUrl] upload-detail URL with the placeholder id: a cancelled
   *   upload is deleted, and multipart's parts URL is this + "parts/"
   * @property {string} [partsUrl] upload-parts URL with the placeholder id (overrides the above)
   * @property {string} [policy] policy name (the server's default if omitted)
   * @property {object} [rules] {contentTypes, minSize, maxSize} to check before asking
   * @property {string} [csrfToken] defaults to the page's token
   * @property {AbortSignal} [signal] cancels
   * @property {string[]} [transports] what to offer (default: multipart if there is a parts
   *   URL, put, post)
   * @property {string | null} [checksum] "sha256": send the whole file's SHA-256 for post/put
   * @property {number} [multipartThreshold] only files up to this size get a whole-file checksum
   * @property {boolean | object} [resume] true: keep multipart uploads resumable in
   *   localStorage (or a logic.ResumeStore)
   * @property {number} [concurrency] multipart parts in parallel (default 4)
   * @property {object} [retry] logic.retry options for parts (attempts, baseDelay, ...)
   * @property {(percent: number, loaded: number, total: number) => void} [onProgress]
   * @property {(stage: string, uploadId: string | null) => void} [onStage] preparing,
   *   resuming, signing, uploading, confirming, done
   * @property {(info: {attempt: number, attempts: number, delay: number, part?: number,
   *   error: UploadError}) => void} [onRetry]
   */

  /**
   * Upload one File.
   *
   * @param {File} file
   * @param {UploadOptions} options
   * @returns {Promise<object>} the server's upload ({id, filename, ..., download_url})
   * @throws {UploadError}
   */
  async function upload(file, options = {}) {
    const onStage = options.onStage || (() => {});
    const { signal } = options;
    const policy = options.policy || null;
    const partsTemplate =
      options.partsUrl ||
      (options.detailUrl
        ? logic.uploadUrlFor(options.detailUrl, ID_PLACEHOLDER, ID_PLACEHOLDER, "parts/")
        : "");
    const transports = offeredTransports(options.transports, Boolean(partsTemplate));
    const store = resumeStoreFor(options.resume, transports);
    const reportBytes = (loaded, total) => {
      if (options.onProgress) options.onProgress(logic.percentOf(loaded, total), loaded, total);
    };
    let uploadId = null;
    let stored = false;
    let stage = "check";
    try {
      const problem = check(file, options.rules);
      if (problem) throw problem;
      core.throwIfAborted(signal, "check");

      let signed = null;
      let present;
      const record = store ? store.lookup(file, policy) : null;
      if (record) {
        stage = "resuming";
        uploadId = record.uploadId;
        onStage("resuming", uploadId);
        const resumed = await resumeUpload(file, record, partsTemplate, options);
        if (resumed) {
          ({ signed, present } = resumed);
        } else {
          store.forget(file, policy);
          uploadId = null;
        }
      }
      if (!signed) {
        const body = { filename: file.name, content_type: file.type, size: file.size };
        if (options.policy) body.policy = options.policy;
        body.transports = transports;
        if (logic.wantsWholeFileChecksum(file.size, wholeFileChecksumOptions(options))) {
          stage = "preparing";
          onStage("preparing", null);
          body.checksum_sha256 = await logic.sha256Base64(file);
          core.throwIfAborted(signal, "preparing");
        }
        stage = "signing";
        onStage("signing", null);
        signed = await requestJson("POST", options.uploadUrl, body, {
          stage,
          csrfToken: options.csrfToken,
          signal,
        });
        uploadId = signed.upload_id;
        if (store && transportName(signed) === "multipart") store.save(file, policy, signed);
      }

      const transport = transportFor(signed, partsTemplate);
      const context = {
        signal,
        csrfToken: options.csrfToken,
        partsUrl: partsTemplate ? logic.uploadUrlFor(partsTemplate, ID_PLACEHOLDER, uploadId) : "",
        present,
        concurrency: options.concurrency,
        retry: options.retry,
        onRetry: options.onRetry,
        onProgress: reportBytes,
      };
      stage = "storage";
      onStage("uploading", uploadId);
      await transport.send(file, signed, context);
      stored = true;
      if (options.onProgress) options.onProgress(100, file.size, file.size);

      stage = "confirm";
      onStage("confirming", uploadId);
      // Not cancellable: the file is in the bucket, the server decides now.
      const data = await confirm(
        file,
        signed,
        transport,
        { ...context, signal: undefined },
        options
      );
      if (store) store.forget(file, policy);
      onStage("done", uploadId);
      return data.upload;
    } catch (caught) {
      const error = core.asUploadError(caught, stage);
      if (error.code === "cancelled") {
        if (store) store.forget(file, policy);
        if (uploadId && !stored && options.detailUrl) {
          // Tidy up the pending upload (the server also aborts a multipart upload); the
          // cleanup command would do it later anyway.
          requestJson(
            "DELETE",
            logic.uploadUrlFor(options.detailUrl, ID_PLACEHOLDER, uploadId),
            undefined,
            {
              csrfToken: options.csrfToken,
            }
          ).catch(() => {});
        }
      } else if (store && isGone(error)) {
        store.forget(file, policy);
      }
      throw error;
    }
  }

  /**
   * Ask the app for a presigned download URL ({% download_link %}'s data-presigned-download).
   *
   * @param {string} endpoint the download-url endpoint
   * @returns {Promise<string>}
   */
  async function downloadUrl(endpoint) {
    const data = await requestJson("GET", endpoint, undefined, { stage: "download" });
    return data.url;
  }

  /**
   * Start a download: get the URL, then navigate to it (the bucket forces a download).
   *
   * @param {string} endpoint the download-url endpoint
   * @returns {Promise<string>} the URL
   */
  async function download(endpoint) {
    const url = await downloadUrl(endpoint);
    window.location.href = url;
    return url;
  }

  /**
   * Upgrade one {% upload_picker %} element (idempotent).
   *
   * @param {HTMLElement} root
   * @returns {Picker}
   */
  function attach(root) {
    return root.presignedPicker || new Picker(root);
  }

  /**
   * Upgrade every picker under `root` (default: the document), e.g. after inserting HTML.
   *
   * @param {ParentNode} [root]
   * @returns {Picker[]}
   */
  function attachAll(root = document) {
    return Array.from(root.querySelectorAll("[data-presigned-picker]"), attach);
  }

  /** The behaviour of one {% upload_picker %} element. */
  class Picker {
    /** @param {HTMLElement} root */
    constructor(root) {
      const template = root.querySelector("template[data-presigned-file-template]");
      if (!template || !template.content.firstElementChild) {
        throw new Error(
          "This picker has no <template data-presigned-file-template>: render it with " +
            "{% upload_picker %} (or the upload form field)."
        );
      }
      this.root = root;
      root.presignedPicker = this;
      const data = root.dataset;
      /** @type {Record<string, any>} the policy and transport settings (data-config) */
      this.config = JSON.parse(data.config || "{}");
      this.uploadUrl = data.uploadUrl;
      this.confirmUrl = data.confirmUrl;
      this.detailUrl = data.detailUrl;
      this.csrfToken = data.csrfToken || csrfToken();
      this.multiple = data.multiple !== undefined;
      this.name = data.name || "";
      this.template = template;
      this.input = root.querySelector("input[type=file]");
      this.list = root.querySelector("[data-presigned-files]");
      this.status = root.querySelector("[data-presigned-status]");
      this.notice = root.querySelector("[data-presigned-notice]");
      this.resumeStore = new logic.ResumeStore(localStorageOrNull());
      /** @type {Item[]} */
      this.items = [];
      this.queue = [];
      this.running = 0;
      pruneResumeRecordsOnce(this.resumeStore);
      this.listen();
    }

    /** True while any file is waiting, uploading or being checked. */
    get busy() {
      return this.items.some((item) => item.active);
    }

    /** The uploads completed in this picker (the server's objects). */
    get uploads() {
      return this.items.filter((item) => item.state === "done").map((item) => item.upload);
    }

    /**
     * Upload these files (a FileList or an array); one only unless the picker is multiple.
     *
     * @param {FileList | File[]} files
     */
    addFiles(files) {
      let chosen = Array.from(files || []);
      if (!chosen.length) return;
      if (!this.multiple) {
        chosen = chosen.slice(0, 1);
        this.clear();
      }
      for (const file of chosen) {
        const item = new Item(this, file);
        this.items.push(item);
        this.list.append(item.li);
        this.queue.push(item);
      }
      this.pump();
    }

    /** Cancel every upload still in progress. */
    cancelAll() {
      this.items.forEach((item) => item.cancel());
    }

    /** Cancel what is in progress and empty the list (and, in a form, its value). */
    clear() {
      this.cancelAll();
      this.items = [];
      this.list.textContent = "";
      this.root.querySelectorAll("[data-presigned-value]").forEach((input) => input.remove());
    }

    /**
     * Say something to screen readers (the status line is visually hidden: every row shows
     * its own state).
     *
     * @param {string} text
     */
    announce(text) {
      this.status.textContent = text;
    }

    /**
     * Show a notice about the whole picker (and announce it), or hide it with "".
     *
     * @param {string} text
     */
    showNotice(text) {
      if (text) this.announce(text);
      if (!this.notice) return;
      this.notice.textContent = text;
      this.notice.hidden = !text;
    }

    /**
     * Keep an upload id as the form's value (a hidden input named like the field).
     *
     * @param {string} uploadId
     */
    keep(uploadId) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = this.name;
      input.value = uploadId;
      input.setAttribute("data-presigned-value", "");
      this.root.append(input);
    }

    /**
     * Take a finished upload out of the form (its file stays in the user's uploads).
     *
     * @param {HTMLElement} li
     */
    remove(li) {
      const uploadId = li.dataset.uploadId;
      this.root.querySelectorAll("[data-presigned-value]").forEach((input) => {
        if (input.value === uploadId) input.remove();
      });
      this.items = this.items.filter((item) => item.li !== li);
      li.remove();
      emit(this.root, "removed", { uploadId });
    }

    /** @private */
    pump() {
      while (this.running < MAX_PARALLEL && this.queue.length) {
        const item = this.queue.shift();
        if (!item.active) continue; // cancelled while waiting
        this.running += 1;
        item.run().then(() => {
          this.running -= 1;
          if (!this.busy) this.showNotice("");
          this.pump();
        });
      }
    }

    /** @private */
    listen() {
      const root = this.root;
      this.input.addEventListener("change", () => {
        const files = Array.from(this.input.files || []);
        // Forget the selection, so choosing the same file again uploads it again; the list
        // below the control shows what was chosen.
        this.input.value = "";
        this.addFiles(files);
      });
      let depth = 0;
      root.addEventListener("dragenter", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth += 1;
        root.classList.add("is-dragover");
      });
      root.addEventListener("dragover", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      });
      root.addEventListener("dragleave", () => {
        depth = Math.max(0, depth - 1);
        if (!depth) root.classList.remove("is-dragover");
      });
      root.addEventListener("drop", (event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth = 0;
        root.classList.remove("is-dragover");
        this.addFiles(event.dataTransfer.files);
      });
      this.list.addEventListener("click", (event) => {
        const button = event.target.closest(".presigned-file__remove");
        if (button) this.remove(button.closest("li"));
      });
      const form = root.closest("form");
      if (form) {
        form.addEventListener("submit", (event) => {
          if (this.busy) {
            event.preventDefault();
            this.showNotice(messages.busy);
          }
        });
      }
    }
  }

  // -- one file in a picker -------------------------------------------------------------------

  /** One file in a picker: its row (a clone of the picker's <template>) and its upload. */
  class Item {
    /**
     * @param {Picker} picker
     * @param {File} file
     */
    constructor(picker, file) {
      this.picker = picker;
      this.file = file;
      this.controller = new AbortController();
      this.state = "waiting";
      this.uploadId = null;
      this.upload = null;
      /** Until when (ms) the text shows a retry notice rather than the percentage. */
      this.noticeUntil = 0;
      this.li = picker.template.content.firstElementChild.cloneNode(true);
      const part = (name) => this.li.querySelector(`.presigned-file__${name}`);
      this.nameNode = part("name");
      this.progress = part("progress");
      this.text = part("text");
      this.cancelButton = part("cancel");
      this.downloadLink = part("download");
      this.removeButton = part("remove");
      this.errorNode = part("error");
      this.nameNode.textContent = file.name;
      this.progress.setAttribute("aria-label", file.name);
      this.cancelButton.setAttribute(
        "aria-label",
        format(messages.cancel_label, { name: file.name })
      );
      this.cancelButton.addEventListener("click", () => this.cancel());
      this.setState("waiting", messages.waiting);
    }

    /** True while waiting, preparing, resuming, uploading or being checked. */
    get active() {
      return ["waiting", "preparing", "resuming", "uploading", "confirming"].includes(this.state);
    }

    /** Stop this file's upload (not once the server is checking it). */
    cancel() {
      if (!this.active || this.state === "confirming") return;
      this.controller.abort();
    }

    /** @private */
    setState(state, text = undefined) {
      this.state = state;
      this.li.dataset.state = state;
      if (text !== undefined) this.text.textContent = text;
    }

    /** @private */
    setProgress(percent) {
      this.progress.value = percent;
      if (Date.now() >= this.noticeUntil) {
        this.text.textContent = format(messages.percent, { percent });
      }
    }

    /** @private */
    async run() {
      const { picker, file } = this;
      const config = picker.config;
      emit(picker.root, "start", { file });
      picker.announce(format(messages.uploading, { name: file.name }));
      try {
        const result = await upload(file, {
          uploadUrl: picker.uploadUrl,
          confirmUrl: picker.confirmUrl,
          detailUrl: picker.detailUrl,
          csrfToken: picker.csrfToken,
          policy: config.policy,
          rules: config,
          transports: config.transports,
          checksum: config.checksum,
          multipartThreshold: config.multipartThreshold,
          resume: picker.resumeStore,
          signal: this.controller.signal,
          onStage: (stage, uploadId) => this.onStage(stage, uploadId),
          onProgress: (percent, loaded, total) => {
            this.setProgress(percent);
            emit(picker.root, "progress", {
              file,
              uploadId: this.uploadId,
              percent,
              loaded,
              total,
            });
          },
          onRetry: (info) => {
            this.noticeUntil = Date.now() + Math.max(1500, info.delay);
            this.text.textContent = messages.retrying;
          },
        });
        this.finish(result);
      } catch (error) {
        this.fail(error);
      }
    }

    /** @private */
    onStage(stage, uploadId) {
      this.uploadId = uploadId;
      if (stage === "preparing") this.setState("preparing", messages.preparing);
      if (stage === "resuming") {
        this.setState("resuming", messages.resuming);
        this.picker.announce(format(messages.resuming_status, { name: this.file.name }));
      }
      if (stage === "uploading") {
        this.setState("uploading");
        this.setProgress(this.progress.value);
      }
      if (stage === "confirming") {
        this.setState("confirming", messages.confirming);
        this.cancelButton.hidden = true;
      }
    }

    /** @private */
    finish(result) {
      const picker = this.picker;
      this.upload = result;
      this.uploadId = result.id;
      this.li.dataset.uploadId = result.id;
      this.progress.value = 100;
      this.setState("done", messages.done);
      this.cancelButton.hidden = true;
      if (result.download_url) {
        this.downloadLink.href = result.download_url;
        this.downloadLink.setAttribute(
          "aria-label",
          format(messages.download_label, { name: result.filename })
        );
        this.downloadLink.hidden = false;
      }
      if (picker.name) {
        picker.keep(result.id);
        this.removeButton.setAttribute(
          "aria-label",
          format(messages.remove_label, { name: result.filename })
        );
        this.removeButton.hidden = false;
      }
      picker.announce(format(messages.done_status, { name: this.file.name }));
      emit(picker.root, "uploaded", { file: this.file, upload: result, uploadId: result.id });
    }

    /** @private */
    fail(caught) {
      const picker = this.picker;
      const error = core.asUploadError(caught, "");
      this.cancelButton.hidden = true;
      if (error.code === "cancelled") {
        this.setState("cancelled", messages.cancelled);
        picker.announce(format(messages.cancelled_status, { name: this.file.name }));
        emit(picker.root, "cancelled", { file: this.file, uploadId: this.uploadId });
        return;
      }
      this.setState("error", "");
      this.errorNode.textContent = error.message;
      this.errorNode.hidden = false;
      picker.announce(
        format(messages.file_error, { name: this.file.name, message: error.message })
      );
      emit(picker.root, "error", {
        file: this.file,
        uploadId: this.uploadId,
        error,
        code: error.code,
        message: error.message,
        status: error.status,
      });
    }
  }

  // -- private helpers ------------------------------------------------------------------------

  /** What to offer in upload-url: the wanted transports this script has (multipart needs a
   * parts URL). */
  function offeredTransports(wanted, hasPartsUrl) {
    return (wanted || DEFAULT_TRANSPORTS).filter(
      (name) => ns.transports[name] && (name !== "multipart" || hasPartsUrl)
    );
  }

  function resumeStoreFor(resume, transports) {
    if (!resume || !transports.includes("multipart")) return null;
    return resume === true ? new logic.ResumeStore(localStorageOrNull()) : resume;
  }

  function wholeFileChecksumOptions(options) {
    const subtle = globalThis.crypto && crypto.subtle;
    return {
      checksum: subtle ? options.checksum : null, // post/put: optional, skipped without WebCrypto
      multipartThreshold: options.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD,
    };
  }

  /** The upload-url answer's transport; today's server names none: "post". */
  function transportName(signed) {
    return signed.transport || "post";
  }

  function transportFor(signed, partsTemplate) {
    const name = transportName(signed);
    const transport = Object.prototype.hasOwnProperty.call(ns.transports, name)
      ? ns.transports[name]
      : null;
    if (!transport || (name === "multipart" && !partsTemplate)) {
      throw new UploadError(
        "transport_unsupported",
        format(messages.transport_unsupported, { transport: name }),
        { stage: "signing" }
      );
    }
    return transport;
  }

  /**
   * `GET uploads/<id>/parts/` for a file's resume record: the upload to continue and the parts
   * S3 has, or null to start afresh. Network trouble is retried; if it lasts, it is the
   * upload's failure (the record stays for the next try).
   */
  async function resumeUpload(file, record, partsTemplate, options) {
    let answer;
    try {
      answer = await logic.retry(
        () =>
          requestJson(
            "GET",
            logic.uploadUrlFor(partsTemplate, ID_PLACEHOLDER, record.uploadId),
            undefined,
            { stage: "resuming", signal: options.signal }
          ),
        { ...(options.retry || {}), signal: options.signal, onRetry: options.onRetry }
      );
    } catch (error) {
      if (core.isAbort(error) || logic.retryDecision(error) || error.status === 401) throw error;
      return null; // 404 (not ours, or gone), 409 (complete or failed), other refusals
    }
    if (!logic.canResume(answer, file)) return null;
    return {
      signed: {
        upload_id: record.uploadId,
        transport: "multipart",
        part_size: answer.part_size ?? record.partSize,
        part_count: answer.part_count ?? record.partCount,
        checksum: answer.checksum !== undefined ? answer.checksum : record.checksum,
        expires_at: record.expiresAt,
      },
      present: answer.parts || [],
    };
  }

  /**
   * confirm-upload. For multipart, this is where the server completes the upload: a network
   * failure or 5xx is retried, and 409 `parts_missing` sends those parts again (twice at most).
   */
  async function confirm(file, signed, transport, context, options) {
    const isMultipart = transportName(signed) === "multipart";
    const once = () =>
      requestJson(
        "POST",
        options.confirmUrl,
        { upload_id: signed.upload_id },
        { stage: "confirm", csrfToken: options.csrfToken }
      );
    for (let round = 0; ; round += 1) {
      try {
        return isMultipart ? await logic.retry(once, { ...(options.retry || {}) }) : await once();
      } catch (error) {
        const missing = error.code === "parts_missing" && (error.details || {}).missing;
        if (
          isMultipart &&
          transport.resend &&
          Array.isArray(missing) &&
          missing.length &&
          round < 2
        ) {
          await transport.resend(file, signed, missing, context);
          continue;
        }
        error.message = format(messages.confirm_failed, { message: error.message });
        throw error;
      }
    }
  }

  /** The server no longer has this upload pending: its resume record is useless. */
  function isGone(error) {
    return (
      error.status === 404 ||
      error.status === 409 ||
      (error.stage === "confirm" &&
        error.status >= 400 &&
        error.status < 500 &&
        error.status !== 401)
    );
  }

  function localStorageOrNull() {
    try {
      return window.localStorage;
    } catch {
      return null; // blocked (e.g. third-party frames, disabled storage)
    }
  }

  let pruned = false;
  function pruneResumeRecordsOnce(store) {
    if (pruned) return;
    pruned = true;
    store.prune();
  }

  function emit(target, name, detail) {
    target.dispatchEvent(new CustomEvent(`presigned:${name}`, { bubbles: true, detail }));
  }

  function hasFiles(event) {
    const types = event.dataTransfer && event.dataTransfer.types;
    return Boolean(types) && Array.from(types).includes("Files");
  }

  // -- download links -------------------------------------------------------------------------

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-presigned-download]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const status = link.parentNode.querySelector(".presigned-download__status");
    if (status) status.textContent = "";
    download(link.getAttribute("data-presigned-download")).catch((error) => {
      const text = format(messages.download_failed, { message: error.message });
      if (status) status.textContent = text;
      emit(link, "error", { error, code: error.code, message: text, status: error.status });
    });
  });

  Object.assign(ns, {
    upload,
    check,
    postToStorage: ns.postToStorage,
    putToStorage: ns.putToStorage,
    downloadUrl,
    download,
    csrfToken,
    attach,
    attachAll,
    format,
    messages,
    UploadError,
    Picker,
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => attachAll());
  } else {
    attachAll();
  }
})();
