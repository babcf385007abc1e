/*
 * presigned_transfers: the "multipart" transport, for large files.
 *
 * The server creates the multipart upload and plans it (part_size, part_count); the browser
 * signs part URLs in batches (`POST uploads/<id>/parts/`), with each part's SHA-256 when the
 * upload's checksum is "sha256" (computed on that part's slice only, never the whole file in
 * memory), PUTs 4 parts at a time with XMLHttpRequest (for progress), retries a failed part
 * with backoff and signs again a part whose URL expired. The server completes the upload when
 * the browser confirms. A classic script; registers on window.PresignedTransfers.transports.
 */
(() => {
  "use strict";

  const ns = window.PresignedTransfers;
  const { messages, requestJson, UploadError, throwIfAborted, asUploadError } = ns.core;
  const logic = ns.logic;

  /** Part URLs signed per request: the part a worker needs and the next ones. */
  const SIGN_BATCH = 10;

  const multipart = {
    name: "multipart",

    /**
     * Send every part S3 does not hold yet.
     *
     * @param {File} file
     * @param {{upload_id: string, part_size: number, part_count: number,
     *   checksum?: string | null}} signed the upload-url answer (or the resumed upload)
     * @param {TransportContext & {present?: {part_number: number, size: number}[],
     *   concurrency?: number, retry?: object}} context see transport-post.js; `present`: the
     *   parts `GET .../parts/` listed when resuming
     * @returns {Promise<void>}
     */
    async send(file, signed, context) {
      const plan = logic.planParts(file.size, signed.part_size, signed.part_count);
      await sendParts(file, signed, plan, logic.missingParts(plan, context.present), context);
    },

    /**
     * Send some parts again (confirm answered 409 `parts_missing` with their numbers).
     *
     * @param {File} file
     * @param {object} signed as for send()
     * @param {number[]} numbers
     * @param {TransportContext} context
     * @returns {Promise<void>}
     */
    async resend(file, signed, numbers, context) {
      const plan = logic.planParts(file.size, signed.part_size, signed.part_count);
      const wanted = new Set(numbers);
      const todo = plan.filter((part) => wanted.has(part.number)).map((part) => part.number);
      await sendParts(file, signed, plan, todo, { ...context, onProgress: () => {} });
    },
  };

  /**
   * PUT the parts numbered `todo`, `context.concurrency` (4) at a time.
   *
   * @param {File} file
   * @param {{checksum?: string | null}} signed
   * @param {Part[]} plan see logic.js
   * @param {number[]} todo
   * @param {object} context
   */
  async function sendParts(file, signed, plan, todo, context) {
    const byNumber = new Map(plan.map((part) => [part.number, part]));
    const progress = new logic.PartProgress(file.size);
    const waiting = new Set(todo);
    for (const part of plan) if (!waiting.has(part.number)) progress.done(part);
    context.onProgress(progress.loaded, file.size);

    // One signal for this batch of parts: the caller's cancel, or the first part that fails
    // for good (the others stop; what S3 already has stays there for a resume).
    const inner = new AbortController();
    const stop = () => inner.abort();
    if (context.signal) {
      if (context.signal.aborted) inner.abort();
      else context.signal.addEventListener("abort", stop, { once: true });
    }
    const { signal } = inner;
    const checksums = new Map();

    /** The base64 SHA-256 of one part, read from its slice only (kept for a re-sign). */
    const partChecksum = async (part) => {
      if (!checksums.has(part.number)) {
        if (!(globalThis.crypto && crypto.subtle)) {
          throw new UploadError("checksum_unavailable", messages.checksum_unavailable, {
            stage: "preparing",
          });
        }
        try {
          checksums.set(part.number, await logic.sha256Base64(file.slice(part.start, part.end)));
        } catch (error) {
          throw asUploadError(error, "preparing");
        }
      }
      return checksums.get(part.number);
    };

    const signer = new logic.BatchLoader(
      async (numbers) => {
        const parts = [];
        for (const number of numbers) {
          const entry = { part_number: number };
          if (signed.checksum === "sha256") {
            entry.checksum_sha256 = await partChecksum(byNumber.get(number));
            throwIfAborted(signal, "signing");
          }
          parts.push(entry);
        }
        const answer = await requestJson(
          "POST",
          context.partsUrl,
          { parts },
          { stage: "signing", csrfToken: context.csrfToken, signal }
        );
        const expiresAt = Date.parse(answer.expires_at);
        return (answer.parts || []).map((part) => [
          part.part_number,
          { url: part.url, headers: part.headers || {}, expiresAt },
        ]);
      },
      { order: todo, batchSize: Math.min(SIGN_BATCH, logic.MAX_SIGN_BATCH) }
    );

    const sendPart = (part) =>
      logic.retry(
        async ({ decision }) => {
          throwIfAborted(signal, "storage");
          if (decision === "resign") signer.forget(part.number);
          let target = await signer.get(part.number);
          if (logic.expiresSoon(target.expiresAt, Date.now())) {
            signer.forget(part.number);
            target = await signer.get(part.number);
          }
          try {
            await ns.putToStorage(target.url, target.headers, file.slice(part.start, part.end), {
              signal,
              onProgress: (loaded) => context.onProgress(progress.update(part, loaded), file.size),
            });
          } catch (error) {
            progress.reset(part);
            throw error;
          }
          context.onProgress(progress.done(part), file.size);
        },
        {
          ...(context.retry || {}),
          signal,
          onRetry: (info) => {
            if (context.onRetry) context.onRetry({ ...info, part: part.number });
          },
        }
      );

    try {
      await logic.pool(todo, (number) => sendPart(byNumber.get(number)), {
        concurrency: context.concurrency || logic.DEFAULT_CONCURRENCY,
        onError: stop,
      });
    } catch (error) {
      throw asUploadError(error, "storage");
    } finally {
      if (context.signal) context.signal.removeEventListener("abort", stop);
    }
  }

  ns.transports = ns.transports || {};
  ns.transports.multipart = multipart;
})();
