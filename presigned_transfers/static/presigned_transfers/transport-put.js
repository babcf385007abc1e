/*
 * presigned_transfers: the "put" transport, one presigned PUT of the whole file (for
 * providers without POST Object, e.g. Cloudflare R2 and Backblaze B2).
 *
 * The file is the body; the request carries exactly the answer's headers (the browser adds
 * the signed Content-Length itself). Only a 200 counts as stored; 412 means an object is
 * already there. A classic script; registers on window.PresignedTransfers.transports.put.
 */
(() => {
  "use strict";

  const ns = window.PresignedTransfers;
  const { sendToStorage } = ns.core;

  const put = {
    name: "put",

    /**
     * Send `file` as the upload-url answer says.
     *
     * @param {File} file
     * @param {{url: string, headers?: Record<string, string>}} signed the upload-url answer
     * @param {TransportContext} context see transport-post.js
     * @returns {Promise<void>}
     */
    async send(file, signed, context) {
      await putToStorage(signed.url, signed.headers || {}, file, {
        signal: context.signal,
        onProgress: context.onProgress,
      });
    },
  };

  /**
   * PUT a Blob (a file, or one part's slice) to a presigned URL with exactly `headers`.
   * Resolves on exactly 200; rejects with an UploadError.
   *
   * @param {string} url
   * @param {Record<string, string>} headers
   * @param {Blob} body
   * @param {{signal?: AbortSignal, onProgress?: (loaded: number, total: number) => void}}
   *   [options]
   * @returns {Promise<void>}
   */
  async function putToStorage(url, headers, body, options = {}) {
    await sendToStorage("PUT", url, body, {
      expect: 200,
      headers,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  }

  ns.transports = ns.transports || {};
  ns.transports.put = put;
  ns.putToStorage = putToStorage;
})();
