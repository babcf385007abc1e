/*
 * presigned_transfers: upload straight to S3 from the browser, download through presigned URLs.
 *
 * No framework, no build step. Load it with {% presigned_transfers_script %}, which also passes
 * the translated texts (data-messages). It upgrades every element rendered by
 * {% upload_picker %} and {% download_link %} and exposes window.PresignedTransfers for pages
 * that build their own interface. See the README's "JavaScript" section.
 *
 * Upload flow: POST upload-url (JSON, CSRF) -> POST multipart to the bucket (every signed
 * field first, the file last; success is exactly 204) -> POST confirm-upload.
 */
(function () {
  "use strict";

  var ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
  var MAX_PARALLEL = 3;

  // English fallbacks; {% presigned_transfers_script %} replaces them with translations.
  var messages = {
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
    waiting: "Waiting…",
    uploading: "Uploading %(name)s…",
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

  var script = document.currentScript;
  if (script && script.dataset.messages) {
    try {
      Object.assign(messages, JSON.parse(script.dataset.messages));
    } catch (ignored) {
      // Keep the English texts.
    }
  }

  /** Fill Python-style "%(name)s" placeholders ("%%" is a literal percent sign). */
  function format(text, values) {
    return String(text).replace(/%(?:\((\w+)\)s|%)/g, function (match, key) {
      if (!key) return "%";
      return values && Object.prototype.hasOwnProperty.call(values, key)
        ? String(values[key])
        : match;
    });
  }

  /**
   * Every failure: `code` is the server's error code or one of "network", "storage_refused",
   * "server_unreachable", "server_error", "cancelled"; `message` is ready to show.
   */
  class UploadError extends Error {
    constructor(code, message, options) {
      super(message);
      options = options || {};
      this.name = "UploadError";
      this.code = code;
      this.status = options.status || 0;
      this.details = options.details || {};
      this.stage = options.stage || "";
    }
  }

  function cancelledError(stage) {
    return new UploadError("cancelled", messages.cancelled, { stage: stage });
  }

  function isAbort(error) {
    return error && (error.name === "AbortError" || error.code === "cancelled");
  }

  /** The page's CSRF token: from {% presigned_transfers_script %}, a {% csrf_token %} input,
   * or Django's cookie. */
  function csrfToken() {
    if (script && script.dataset.csrfToken) return script.dataset.csrfToken;
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /** Check a File against a policy ({contentTypes, minSize, maxSize, ...}); null if fine. */
  function check(file, rules) {
    if (!rules) return null;
    var type = (file.type || "").split(";")[0].trim().toLowerCase();
    var types = rules.contentTypes || [];
    if (types.length && types.indexOf(type) === -1) {
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

  /** A JSON request to the Django app; resolves with the body, rejects with UploadError. */
  function requestJson(method, url, body, options) {
    options = options || {};
    var stage = options.stage || "";
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = options.csrfToken || csrfToken();
    return fetch(url, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal: options.signal,
    }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            if (response.ok && data) return data;
            if (data && data.error && data.error.message) {
              throw new UploadError(data.error.code, data.error.message, {
                status: response.status,
                details: data.error.details,
                stage: stage,
              });
            }
            throw new UploadError(
              "server_error",
              format(messages.server_error, { status: response.status }),
              { status: response.status, stage: stage }
            );
          });
      },
      function (error) {
        if (isAbort(error)) throw cancelledError(stage);
        throw new UploadError("server_unreachable", messages.server_unreachable, {
          stage: stage,
        });
      }
    );
  }

  /** The S3 error code of an XML error body, if the bucket's CORS let us read it. */
  function storageErrorCode(xhr) {
    var match = /<Code>([^<]{1,64})<\/Code>/.exec(xhr.responseText || "");
    return match ? match[1] : "";
  }

  /**
   * POST the file to the bucket: every signed field first, in order, then the file, last.
   * XMLHttpRequest (not fetch) so upload progress is reported. Resolves on exactly 204.
   */
  function postToStorage(url, fields, file, options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      Object.keys(fields).forEach(function (name) {
        form.append(name, fields[name]);
      });
      form.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && options.onProgress) {
          options.onProgress(event.loaded, event.total);
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 204) {
          resolve();
          return;
        }
        var code = storageErrorCode(xhr);
        reject(
          new UploadError(
            "storage_refused",
            format(messages.storage_refused, {
              status: code ? xhr.status + ", " + code : xhr.status,
            }),
            { status: xhr.status, stage: "storage", details: { storage_code: code } }
          )
        );
      });
      function failed() {
        reject(new UploadError("network", messages.network, { stage: "storage" }));
      }
      xhr.addEventListener("error", failed);
      xhr.addEventListener("timeout", failed);
      xhr.addEventListener("abort", function () {
        reject(cancelledError("storage"));
      });
      if (options.signal) {
        if (options.signal.aborted) {
          reject(cancelledError("storage"));
          return;
        }
        options.signal.addEventListener("abort", function () {
          xhr.abort();
        });
      }
      xhr.send(form);
    });
  }

  /**
   * Upload one File. Options:
   *   uploadUrl, confirmUrl   the app's endpoints ({% url 'presigned_transfers:upload-url' %}, ...)
   *   policy                  policy name (the server's default if omitted)
   *   rules                   {contentTypes, minSize, maxSize} to check before asking (optional)
   *   csrfToken               defaults to the page's token
   *   signal                  an AbortSignal to cancel
   *   detailUrl               upload-detail URL with ID_PLACEHOLDER: a cancelled upload is deleted
   *   onProgress(percent, loaded, total), onStage(stage, uploadId)
   * Resolves with the server's upload ({id, filename, ..., download_url}); rejects with an
   * UploadError.
   */
  function upload(file, options) {
    options = options || {};
    var onStage = options.onStage || function () {};
    var uploadId = null;
    var json = { csrfToken: options.csrfToken, signal: options.signal };
    var stored = false;
    return Promise.resolve()
      .then(function () {
        var problem = check(file, options.rules);
        if (problem) throw problem;
        if (options.signal && options.signal.aborted) throw cancelledError("check");
        onStage("signing", null);
        var body = { filename: file.name, content_type: file.type, size: file.size };
        if (options.policy) body.policy = options.policy;
        return requestJson(
          "POST",
          options.uploadUrl,
          body,
          Object.assign({ stage: "signing" }, json)
        );
      })
      .then(function (signed) {
        uploadId = signed.upload_id;
        onStage("uploading", uploadId);
        return postToStorage(signed.url, signed.fields, file, {
          signal: options.signal,
          onProgress: function (loaded, total) {
            if (options.onProgress) {
              options.onProgress(Math.min(99, Math.floor((100 * loaded) / total)), loaded, total);
            }
          },
        });
      })
      .then(function () {
        stored = true;
        if (options.onProgress) options.onProgress(100, file.size, file.size);
        onStage("confirming", uploadId);
        // Not cancellable: the file is in the bucket, the server decides now.
        return requestJson(
          "POST",
          options.confirmUrl,
          { upload_id: uploadId },
          { stage: "confirm", csrfToken: options.csrfToken }
        ).catch(function (error) {
          error.message = format(messages.confirm_failed, { message: error.message });
          throw error;
        });
      })
      .then(function (data) {
        onStage("done", uploadId);
        return data.upload;
      })
      .catch(function (error) {
        if (error.code === "cancelled" && uploadId && !stored && options.detailUrl) {
          // Tidy up the pending upload; the cleanup command would do it later anyway.
          requestJson("DELETE", options.detailUrl.replace(ID_PLACEHOLDER, uploadId), undefined, {
            csrfToken: options.csrfToken,
          }).catch(function () {});
        }
        throw error;
      });
  }

  /** Ask the app for a presigned download URL ({% download_link %}'s data-presigned-download). */
  function downloadUrl(endpoint) {
    return requestJson("GET", endpoint, undefined, { stage: "download" }).then(function (data) {
      return data.url;
    });
  }

  /** Start a download: get the URL, then navigate to it (the bucket forces a download). */
  function download(endpoint) {
    return downloadUrl(endpoint).then(function (url) {
      window.location.href = url;
      return url;
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function emit(target, name, detail) {
    target.dispatchEvent(new CustomEvent("presigned:" + name, { bubbles: true, detail: detail }));
  }

  /** One file in a picker: its row in the list and its upload. */
  class Item {
    constructor(picker, file) {
      this.picker = picker;
      this.file = file;
      this.controller = new AbortController();
      this.state = "waiting";
      this.uploadId = null;
      this.upload = null;
      var li = element("li", "presigned-file");
      li.dataset.state = "waiting";
      this.nameNode = element("span", "presigned-file__name", file.name);
      this.progress = element("progress", "presigned-file__progress");
      this.progress.max = 100;
      this.progress.value = 0;
      this.progress.setAttribute("aria-label", file.name);
      this.text = element("span", "presigned-file__text", messages.waiting);
      this.cancelButton = element("button", "presigned-file__cancel", messages.cancel);
      this.cancelButton.type = "button";
      this.cancelButton.setAttribute("aria-label", format(messages.cancel_label, { name: file.name }));
      this.cancelButton.addEventListener("click", this.cancel.bind(this));
      this.errorNode = element("p", "presigned-file__error");
      this.errorNode.hidden = true;
      li.append(this.nameNode, " ", this.progress, " ", this.text, " ", this.cancelButton, this.errorNode);
      this.li = li;
    }

    get active() {
      return this.state === "waiting" || this.state === "uploading" || this.state === "confirming";
    }

    setState(state, text) {
      this.state = state;
      this.li.dataset.state = state;
      if (text !== undefined) this.text.textContent = text;
    }

    setProgress(percent) {
      this.progress.value = percent;
      this.text.textContent = format(messages.percent, { percent: percent });
    }

    cancel() {
      if (!this.active || this.state === "confirming") return;
      this.controller.abort();
    }

    run() {
      var picker = this.picker;
      var item = this;
      emit(picker.root, "start", { file: this.file });
      picker.announce(format(messages.uploading, { name: this.file.name }));
      return upload(this.file, {
        uploadUrl: picker.uploadUrl,
        confirmUrl: picker.confirmUrl,
        detailUrl: picker.detailUrl,
        csrfToken: picker.csrfToken,
        policy: picker.config.policy,
        rules: picker.config,
        signal: this.controller.signal,
        onStage: function (stage, uploadId) {
          item.uploadId = uploadId;
          if (stage === "uploading") item.setState("uploading");
          if (stage === "confirming") {
            item.setState("confirming", messages.confirming);
            item.cancelButton.hidden = true;
          }
        },
        onProgress: function (percent, loaded, total) {
          item.setProgress(percent);
          emit(picker.root, "progress", {
            file: item.file,
            uploadId: item.uploadId,
            percent: percent,
            loaded: loaded,
            total: total,
          });
        },
      }).then(
        function (result) {
          item.finish(result);
        },
        function (error) {
          item.fail(error);
        }
      );
    }

    finish(result) {
      this.upload = result;
      this.uploadId = result.id;
      this.li.dataset.uploadId = result.id;
      this.progress.value = 100;
      this.setState("done", messages.done);
      this.cancelButton.remove();
      if (result.download_url) {
        var link = element("a", "presigned-file__download", messages.download);
        link.href = result.download_url;
        link.setAttribute("aria-label", format(messages.download_label, { name: result.filename }));
        this.li.insertBefore(link, this.errorNode);
        this.li.insertBefore(document.createTextNode(" "), link);
      }
      var picker = this.picker;
      if (picker.name) {
        picker.keep(result.id);
        var remove = element("button", "presigned-file__remove", messages.remove);
        remove.type = "button";
        remove.setAttribute("aria-label", format(messages.remove_label, { name: result.filename }));
        this.li.insertBefore(remove, this.errorNode);
        this.li.insertBefore(document.createTextNode(" "), remove);
      }
      picker.announce(format(messages.done_status, { name: this.file.name }));
      emit(picker.root, "uploaded", { file: this.file, upload: result, uploadId: result.id });
    }

    fail(error) {
      var picker = this.picker;
      this.cancelButton.remove();
      if (error.code === "cancelled") {
        this.setState("cancelled", messages.cancelled);
        picker.announce(format(messages.cancelled_status, { name: this.file.name }));
        emit(picker.root, "cancelled", { file: this.file, uploadId: this.uploadId });
        return;
      }
      if (!(error instanceof UploadError)) {
        error = new UploadError("error", String((error && error.message) || error));
      }
      this.setState("error", "");
      this.errorNode.textContent = error.message;
      this.errorNode.hidden = false;
      picker.announce(format(messages.file_error, { name: this.file.name, message: error.message }));
      emit(picker.root, "error", {
        file: this.file,
        uploadId: this.uploadId,
        error: error,
        code: error.code,
        message: error.message,
        status: error.status,
      });
    }
  }

  /** The behaviour of one {% upload_picker %} element. */
  class Picker {
    constructor(root) {
      this.root = root;
      root.presignedPicker = this;
      var data = root.dataset;
      this.config = JSON.parse(data.config || "{}");
      this.uploadUrl = data.uploadUrl;
      this.confirmUrl = data.confirmUrl;
      this.detailUrl = data.detailUrl;
      this.csrfToken = data.csrfToken || csrfToken();
      this.multiple = data.multiple !== undefined;
      this.name = data.name || "";
      this.input = root.querySelector("input[type=file]");
      this.list = root.querySelector("[data-presigned-files]");
      this.status = root.querySelector("[data-presigned-status]");
      this.items = [];
      this.queue = [];
      this.running = 0;

      var picker = this;
      this.input.addEventListener("change", function () {
        var files = Array.from(picker.input.files || []);
        // Forget the selection, so choosing the same file again uploads it again; the
        // list below the control shows what was chosen.
        picker.input.value = "";
        picker.addFiles(files);
      });
      var depth = 0;
      root.addEventListener("dragenter", function (event) {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth += 1;
        root.classList.add("is-dragover");
      });
      root.addEventListener("dragover", function (event) {
        if (!hasFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      });
      root.addEventListener("dragleave", function () {
        depth = Math.max(0, depth - 1);
        if (!depth) root.classList.remove("is-dragover");
      });
      root.addEventListener("drop", function (event) {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth = 0;
        root.classList.remove("is-dragover");
        picker.addFiles(event.dataTransfer.files);
      });
      this.list.addEventListener("click", function (event) {
        var button = event.target.closest(".presigned-file__remove");
        if (button) picker.remove(button.closest("li"));
      });
      var form = root.closest("form");
      if (form) {
        form.addEventListener("submit", function (event) {
          if (picker.busy) {
            event.preventDefault();
            picker.announce(messages.busy);
          }
        });
      }
    }

    /** True while any file is waiting, uploading or being checked. */
    get busy() {
      return this.items.some(function (item) {
        return item.active;
      });
    }

    /** The uploads completed in this picker (the server's objects). */
    get uploads() {
      return this.items
        .filter(function (item) {
          return item.state === "done";
        })
        .map(function (item) {
          return item.upload;
        });
    }

    announce(text) {
      this.status.textContent = text;
    }

    /** Upload these files (a FileList or an array); one only unless the picker is multiple. */
    addFiles(files) {
      files = Array.from(files || []);
      if (!files.length) return;
      if (!this.multiple) {
        files = files.slice(0, 1);
        this.clear();
      }
      var picker = this;
      files.forEach(function (file) {
        var item = new Item(picker, file);
        picker.items.push(item);
        picker.list.append(item.li);
        picker.queue.push(item);
      });
      this.pump();
    }

    pump() {
      var picker = this;
      while (this.running < MAX_PARALLEL && this.queue.length) {
        var item = this.queue.shift();
        if (!item.active) continue; // cancelled while waiting
        this.running += 1;
        item.run().then(function () {
          picker.running -= 1;
          picker.pump();
        });
      }
    }

    /** Cancel every upload still in progress. */
    cancelAll() {
      this.items.forEach(function (item) {
        item.cancel();
      });
    }

    /** Cancel what is in progress and empty the list (and, in a form, its value). */
    clear() {
      this.cancelAll();
      this.items = [];
      this.list.textContent = "";
      this.root.querySelectorAll("[data-presigned-value]").forEach(function (input) {
        input.remove();
      });
    }

    /** Keep an upload id as the form's value (a hidden input named like the field). */
    keep(uploadId) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = this.name;
      input.value = uploadId;
      input.setAttribute("data-presigned-value", "");
      this.root.append(input);
    }

    /** Take a finished upload out of the form (its file stays in the user's uploads). */
    remove(li) {
      var uploadId = li.dataset.uploadId;
      this.root.querySelectorAll("[data-presigned-value]").forEach(function (input) {
        if (input.value === uploadId) input.remove();
      });
      this.items = this.items.filter(function (item) {
        return item.li !== li;
      });
      li.remove();
      emit(this.root, "removed", { uploadId: uploadId });
    }
  }

  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  /** Upgrade one {% upload_picker %} element (idempotent); returns its Picker. */
  function attach(root) {
    return root.presignedPicker || new Picker(root);
  }

  /** Upgrade every picker under `root` (default: the document), e.g. after inserting HTML. */
  function attachAll(root) {
    return Array.from((root || document).querySelectorAll("[data-presigned-picker]")).map(attach);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-presigned-download]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    var status = link.parentNode.querySelector(".presigned-download__status");
    if (status) status.textContent = "";
    download(link.getAttribute("data-presigned-download")).catch(function (error) {
      var text = format(messages.download_failed, { message: error.message });
      if (status) status.textContent = text;
      emit(link, "error", { error: error, code: error.code, message: text, status: error.status });
    });
  });

  window.PresignedTransfers = {
    upload: upload,
    check: check,
    postToStorage: postToStorage,
    downloadUrl: downloadUrl,
    download: download,
    csrfToken: csrfToken,
    attach: attach,
    attachAll: attachAll,
    format: format,
    messages: messages,
    UploadError: UploadError,
    Picker: Picker,
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      attachAll();
    });
  } else {
    attachAll();
  }
})();
