/*
 * presigned_transfers: the "post" transport, a presigned POST (S3's POST Object).
 *
 * multipart/form-data with every signed field first, in order, the file last; only a 204
 * counts as stored. A classic script; registers on window.PresignedTransfers.transports.post.
 */
(() => {
  "use strict";

  const ns = window.PresignedTransfers;
  const { sendToStorage } = ns.core;

  /**
   * @typedef {object} TransportContext what upload() hands a transport
   * @property {AbortSignal} [signal] cancels every request
   * @property {string} [csrfToken]
   * @property {string} [partsUrl] multipart: `POST`/`GET uploads/<id>/parts/`
   * @property {(loaded: number, total: number) => void} onProgress bytes in storage so far
   * @property {(info: object) => void} [onRetry] a request failed and is tried again
   */

  const post = {
    name: "post",

    /**
     * Send `file` as the upload-url answer says.
     *
     * @param {File} file
     * @param {{url: string, fields: Record<string, string>}} signed the upload-url answer
     * @param {TransportContext} context
     * @returns {Promise<void>}
     */
    async send(file, signed, context) {
      await postToStorage(signed.url, signed.fields, file, {
        signal: context.signal,
        onProgress: context.onProgress,
      });
    },
  };

  /**
   * POST the file to the bucket: every signed field first, in order, then the file, last.
   * Resolves on exactly 204; rejects with an UploadError.
   *
   * @param {string} url
   * @param {Record<string, string>} fields
   * @param {Blob} file
   * @param {{signal?: AbortSignal, onProgress?: (loaded: number, total: number) => void}}
   *   [options]
   * @returns {Promise<void>}
   */
  async function postToStorage(url, fields, file, options = {}) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", file);
    await sendToStorage("POST", url, form, {
      expect: 204,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  }

  ns.transports = ns.transports || {};
  ns.transports.post = post;
  ns.postToStorage = postToStorage;
})();
