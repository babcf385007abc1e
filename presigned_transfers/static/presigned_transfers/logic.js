/*
 * presigned_transfers: the pure logic of an upload. No DOM, no network, no clock of its own.
 *
 * Planning the parts of a multipart upload, retrying with backoff, running N tasks at a time,
 * signing in batches, the resume record of a file, progress across parallel parts, SHA-256.
 * A classic script: in the browser it registers on window.PresignedTransfers.logic; in Node it
 * is a CommonJS module (tests/js/ test it with `node --test tests/js/`).
 */
(() => {
  "use strict";

  /** S3's multipart limits (AWS "Amazon S3 multipart upload limits"). */
  const S3_LIMITS = Object.freeze({
    maxParts: 10000,
    minPartSize: 5 * 1024 * 1024, // every part but the last
    maxPartSize: 5 * 1024 * 1024 * 1024,
    maxObjectSize: 5 * 1024 * 1024 * 1024 * 1024,
  });

  /** How many parts are sent at the same time unless told otherwise. */
  const DEFAULT_CONCURRENCY = 4;

  /** The server signs at most this many part URLs per request. */
  const MAX_SIGN_BATCH = 100;

  /** Where resume records live in localStorage (the rest of the key is a hash). */
  const RESUME_PREFIX = "presigned_transfers:resume:";

  // -- parts ----------------------------------------------------------------------------------

  /**
   * @typedef {object} Part
   * @property {number} number 1 .. part count
   * @property {number} start first byte (inclusive): `file.slice(part.start, part.end)`
   * @property {number} end last byte + 1 (exclusive)
   * @property {number} size `end - start`
   */

  /**
   * The parts of a multipart upload as the server planned them: `partCount` parts of
   * `partSize` bytes, the last one the rest.
   *
   * @param {number} size the file's size in bytes
   * @param {number} partSize the size of every part but the last
   * @param {number} partCount
   * @returns {Part[]}
   * @throws {RangeError} if the numbers do not make this file or break one of S3's limits
   */
  function planParts(size, partSize, partCount) {
    requireInteger("size", size, 1, S3_LIMITS.maxObjectSize);
    requireInteger("part_size", partSize, 1, S3_LIMITS.maxPartSize);
    requireInteger("part_count", partCount, 1, S3_LIMITS.maxParts);
    if (partCount > 1 && partSize < S3_LIMITS.minPartSize) {
      throw new RangeError(
        `part_size ${partSize} is below S3's minimum of ${S3_LIMITS.minPartSize} bytes ` +
          "(only the last part may be smaller)"
      );
    }
    if (Math.ceil(size / partSize) !== partCount) {
      throw new RangeError(
        `${partCount} parts of ${partSize} bytes do not make a file of ${size} bytes`
      );
    }
    return Array.from({ length: partCount }, (_, index) => {
      const start = index * partSize;
      const end = Math.min(size, start + partSize);
      return { number: index + 1, start, end, size: end - start };
    });
  }

  /**
   * The part numbers still to send: every planned part the server's `GET .../parts/` answer
   * does not list with exactly the planned size.
   *
   * @param {Part[]} plan
   * @param {{part_number: number, size: number}[]} [listed] the answer's `parts`
   * @returns {number[]} in ascending order
   */
  function missingParts(plan, listed) {
    const stored = new Map((listed || []).map((part) => [part.part_number, part.size]));
    return plan.filter((part) => stored.get(part.number) !== part.size).map((part) => part.number);
  }

  /**
   * `items` cut into lists of at most `size` (e.g. part numbers to sign per request).
   *
   * @template T
   * @param {T[]} items
   * @param {number} [size]
   * @returns {T[][]}
   */
  function batches(items, size = MAX_SIGN_BATCH) {
    requireInteger("batch size", size, 1, Number.MAX_SAFE_INTEGER);
    const result = [];
    for (let index = 0; index < items.length; index += size) {
      result.push(items.slice(index, index + size));
    }
    return result;
  }

  // -- retrying -------------------------------------------------------------------------------

  /**
   * What to do about a failure: `"retry"` (network error, timeout, HTTP 5xx, 408, 429),
   * `"resign"` (the signed URL expired: sign it again, then retry) or `null` (a refusal such as
   * another 4xx, a cancel, anything unknown: give up).
   *
   * @param {any} error an UploadError-like object: `code`, `status`, `details.storage_code`,
   *   `details.storage_message`
   * @returns {"retry" | "resign" | null}
   */
  function retryDecision(error) {
    if (!error || error.code === "cancelled" || error.name === "AbortError") return null;
    const details = error.details || {};
    const status = error.status || 0;
    if (
      (status === 403 && /expired/i.test(details.storage_message || "")) ||
      details.storage_code === "ExpiredToken"
    ) {
      return "resign";
    }
    if (error.code === "network" || error.code === "server_unreachable") return "retry";
    if (status === 408 || status === 429 || status >= 500) return "retry";
    return null;
  }

  /**
   * The pause before retry number `attempt` (1 = the first retry): exponential, capped, with
   * "equal jitter" (half fixed, half random) so parallel parts do not retry in lockstep.
   * A `Retry-After` (seconds) is honoured up to `maxDelay`.
   *
   * @param {number} attempt
   * @param {{baseDelay?: number, maxDelay?: number, factor?: number,
   *   random?: () => number}} [options] see RetryOptions
   * @param {number} [retryAfter] seconds, from the server
   * @returns {number} milliseconds
   */
  function backoffDelay(attempt, options = {}, retryAfter = undefined) {
    const { baseDelay = 1000, maxDelay = 30000, factor = 2, random = Math.random } = options;
    const cap = Math.min(maxDelay, baseDelay * factor ** Math.max(0, attempt - 1));
    let delay = cap / 2 + (random() * cap) / 2;
    if (Number.isFinite(retryAfter) && retryAfter > 0) {
      delay = Math.max(delay, Math.min(maxDelay, retryAfter * 1000));
    }
    return Math.round(delay);
  }

  /**
   * @typedef {object} RetryOptions
   * @property {number} [attempts] tries in all, the first included (default 5)
   * @property {number} [baseDelay] ms before the first retry, about (default 1000)
   * @property {number} [maxDelay] ms, the cap (default 30000)
   * @property {number} [factor] growth per retry (default 2)
   * @property {() => number} [random] in [0, 1) (default Math.random)
   * @property {(ms: number, signal?: AbortSignal) => Promise<void>} [sleep] (default a timer)
   * @property {(error: any) => ("retry" | "resign" | null)} [classify] (default retryDecision)
   * @property {(info: {attempt: number, attempts: number, delay: number,
   *   decision: string, error: any}) => void} [onRetry] before each pause
   * @property {AbortSignal} [signal] stops retrying (the pause rejects with an AbortError)
   */

  /**
   * Run `task` until it succeeds, retrying what `classify` allows, with backoff between tries.
   * The task gets `{attempt, error, decision}`: the previous try's failure and what was decided
   * about it (a task seeing `decision === "resign"` signs its URL again first).
   *
   * @template T
   * @param {(state: {attempt: number, error: any, decision: ("retry" | "resign" | null)}) =>
   *   Promise<T>} task
   * @param {RetryOptions} [options]
   * @returns {Promise<T>} the task's result, or its last failure
   */
  async function retry(task, options = {}) {
    const { attempts = 5, sleep = wait, classify = retryDecision, onRetry, signal } = options;
    let state = { attempt: 1, error: null, decision: null };
    for (;;) {
      try {
        return await task(state);
      } catch (error) {
        const decision = classify(error);
        if (!decision || state.attempt >= attempts || (signal && signal.aborted)) throw error;
        const delay =
          decision === "resign" ? 0 : backoffDelay(state.attempt, options, error.retryAfter);
        if (onRetry) onRetry({ attempt: state.attempt, attempts, delay, decision, error });
        await sleep(delay, signal);
        state = { attempt: state.attempt + 1, error, decision };
      }
    }
  }

  /**
   * Resolve after `ms` milliseconds; reject with an AbortError as soon as `signal` aborts.
   *
   * @param {number} ms
   * @param {AbortSignal} [signal]
   * @returns {Promise<void>}
   */
  function wait(ms, signal = undefined) {
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(abortError());
        return;
      }
      const aborted = () => {
        clearTimeout(timer);
        reject(abortError());
      };
      const timer = setTimeout(() => {
        if (signal) signal.removeEventListener("abort", aborted);
        resolve();
      }, ms);
      if (signal) signal.addEventListener("abort", aborted, { once: true });
    });
  }

  // -- running N at a time --------------------------------------------------------------------

  /**
   * Run `worker(item, index)` for every item, at most `concurrency` at once, starting them in
   * order. After the first failure no further item starts; `onError` hears of it at once (to
   * abort the ones running) and the promise rejects with it once every started worker has
   * settled, so nothing outlives the call.
   *
   * @template T, R
   * @param {T[]} items
   * @param {(item: T, index: number) => Promise<R>} worker
   * @param {{concurrency?: number, onError?: (error: any) => void}} [options]
   * @returns {Promise<R[]>} the results, in the items' order
   */
  function pool(items, worker, options = {}) {
    const { concurrency = DEFAULT_CONCURRENCY, onError } = options;
    requireInteger("concurrency", concurrency, 1, Number.MAX_SAFE_INTEGER);
    const results = new Array(items.length);
    let next = 0;
    let failure = null;
    const lane = async () => {
      while (next < items.length && !failure) {
        const index = next;
        next += 1;
        try {
          results[index] = await worker(items[index], index);
        } catch (error) {
          if (!failure) {
            failure = { error };
            if (onError) onError(error);
          }
        }
      }
    };
    const lanes = Array.from({ length: Math.min(concurrency, items.length) }, lane);
    return Promise.all(lanes).then(() => {
      if (failure) throw failure.error;
      return results;
    });
  }

  // -- signing in batches ---------------------------------------------------------------------

  /**
   * Loads values by key in batches: asking for a key that is not loaded loads it together with
   * the keys that follow it in `order` and are not loaded yet (at most `batchSize` in all).
   * Used to sign part URLs: one request signs the part a worker needs and the next few.
   *
   * @template K, V
   */
  class BatchLoader {
    /**
     * @param {(keys: K[]) => Promise<Iterable<[K, V]>>} load
     * @param {{order: K[], batchSize?: number}} options
     */
    constructor(load, { order, batchSize = 10 }) {
      requireInteger("batch size", batchSize, 1, MAX_SIGN_BATCH);
      this.load = load;
      this.order = order;
      this.batchSize = batchSize;
      /** @type {Map<K, Promise<V>>} */
      this.entries = new Map();
    }

    /**
     * The value for `key`, loading it (and the next few) if needed.
     *
     * @param {K} key
     * @returns {Promise<V>}
     */
    get(key) {
      if (!this.entries.has(key)) this.loadBatch(this.batchFrom(key));
      return this.entries.get(key);
    }

    /**
     * Drop `key`'s value (e.g. an expired URL): the next `get` loads it again.
     *
     * @param {K} key
     */
    forget(key) {
      this.entries.delete(key);
    }

    /** @private */
    batchFrom(key) {
      const batch = [key];
      const start = this.order.indexOf(key);
      for (let index = start + 1; start >= 0 && index < this.order.length; index += 1) {
        if (batch.length >= this.batchSize) break;
        const candidate = this.order[index];
        if (!this.entries.has(candidate)) batch.push(candidate);
      }
      return batch;
    }

    /** @private */
    loadBatch(keys) {
      const loaded = Promise.resolve()
        .then(() => this.load(keys))
        .then((entries) => new Map(entries));
      for (const key of keys) {
        const value = loaded.then((values) => {
          if (!values.has(key)) throw new Error(`The answer has no entry for ${String(key)}.`);
          return values.get(key);
        });
        value.catch(() => {
          // A failed load is forgotten, so the next get() asks again.
          if (this.entries.get(key) === value) this.entries.delete(key);
        });
        this.entries.set(key, value);
      }
    }
  }

  /**
   * True when a signed URL's `expiresAt` (ms since the epoch) is within `margin` ms of `now`.
   *
   * @param {number} expiresAt
   * @param {number} now
   * @param {number} [margin]
   * @returns {boolean}
   */
  function expiresSoon(expiresAt, now, margin = 30000) {
    return Number.isFinite(expiresAt) && now >= expiresAt - margin;
  }

  // -- progress -------------------------------------------------------------------------------

  /**
   * One progress figure for parts sent in parallel: the bytes of finished parts plus what the
   * running ones report. Never goes backwards, even when a part starts again after a failure.
   */
  class PartProgress {
    /** @param {number} total the file's size */
    constructor(total) {
      this.total = total;
      this.finishedBytes = 0;
      /** @type {Set<number>} */
      this.finished = new Set();
      /** @type {Map<number, number>} */
      this.running = new Map();
      this.reported = 0;
    }

    /**
     * A part is in storage (sent now, or found there when resuming).
     *
     * @param {Part} part
     * @returns {number} bytes to report
     */
    done(part) {
      this.running.delete(part.number);
      if (!this.finished.has(part.number)) {
        this.finished.add(part.number);
        this.finishedBytes += part.size;
      }
      return this.loaded;
    }

    /**
     * `loaded` bytes of a running part have been sent.
     *
     * @param {Part} part
     * @param {number} loaded
     * @returns {number} bytes to report
     */
    update(part, loaded) {
      if (!this.finished.has(part.number)) {
        this.running.set(part.number, Math.max(0, Math.min(loaded, part.size)));
      }
      return this.loaded;
    }

    /**
     * A part's try failed: what it had sent no longer counts (the figure shown stays).
     *
     * @param {Part} part
     */
    reset(part) {
      this.running.delete(part.number);
    }

    /** Bytes to report: monotonic, at most `total`. */
    get loaded() {
      let sum = this.finishedBytes;
      for (const bytes of this.running.values()) sum += bytes;
      this.reported = Math.max(this.reported, Math.min(this.total, sum));
      return this.reported;
    }
  }

  /**
   * Percent for a progress bar: whole numbers, and 99 at most until the server has confirmed.
   *
   * @param {number} loaded
   * @param {number} total
   * @returns {number}
   */
  function percentOf(loaded, total) {
    if (!(total > 0)) return 0;
    return Math.max(0, Math.min(99, Math.floor((100 * loaded) / total)));
  }

  // -- resume records -------------------------------------------------------------------------

  /**
   * @typedef {object} ResumeRecord what is kept in localStorage for one file
   * @property {string} uploadId
   * @property {number} size the file's size
   * @property {number} partSize
   * @property {number} partCount
   * @property {string | null} checksum "sha256" or null
   * @property {string} expiresAt the upload's deadline (ISO 8601, from upload-url)
   */

  /**
   * The key of a file's resume record: a hash of its name, size, last modification and
   * policy (so no file name is stored in the key).
   *
   * @param {{name: string, size: number, lastModified: number}} file
   * @param {string | null} [policy]
   * @returns {string}
   */
  function resumeKey(file, policy = null) {
    const identity = JSON.stringify([file.name, file.size, file.lastModified, policy || ""]);
    return RESUME_PREFIX + hash53(identity).toString(36);
  }

  /**
   * Resume records for multipart uploads in a Storage (localStorage). Every failure of the
   * storage (disabled, full, private mode) means "no record", never an error.
   */
  class ResumeStore {
    /**
     * @param {Storage | null | undefined} storage
     * @param {{now?: () => number}} [options]
     */
    constructor(storage, { now = Date.now } = {}) {
      this.storage = storage || null;
      this.now = now;
    }

    /**
     * The record for `file`, or null. An expired or unreadable record is removed.
     *
     * @param {{name: string, size: number, lastModified: number}} file
     * @param {string | null} [policy]
     * @returns {ResumeRecord | null}
     */
    lookup(file, policy = null) {
      const key = resumeKey(file, policy);
      const record = this.read(key);
      if (record && record.size === file.size) return record;
      if (record !== undefined) this.remove(key);
      return null;
    }

    /**
     * Remember a multipart upload-url answer for `file`.
     *
     * @param {{name: string, size: number, lastModified: number}} file
     * @param {string | null} policy
     * @param {{upload_id: string, part_size: number, part_count: number,
     *   checksum?: string | null, expires_at: string}} signed
     * @returns {ResumeRecord}
     */
    save(file, policy, signed) {
      /** @type {ResumeRecord} */
      const record = {
        uploadId: signed.upload_id,
        size: file.size,
        partSize: signed.part_size,
        partCount: signed.part_count,
        checksum: signed.checksum || null,
        expiresAt: signed.expires_at,
      };
      try {
        if (this.storage) this.storage.setItem(resumeKey(file, policy), JSON.stringify(record));
      } catch {
        // Full or disabled: the upload works, it just cannot resume after a reload.
      }
      return record;
    }

    /**
     * Forget `file`'s record (done, cancelled, or unknown to the server).
     *
     * @param {{name: string, size: number, lastModified: number}} file
     * @param {string | null} [policy]
     */
    forget(file, policy = null) {
      this.remove(resumeKey(file, policy));
    }

    /**
     * Remove every expired or unreadable record.
     *
     * @returns {number} how many were removed
     */
    prune() {
      if (!this.storage) return 0;
      let keys = [];
      try {
        for (let index = 0; index < this.storage.length; index += 1) {
          const key = this.storage.key(index);
          if (key && key.startsWith(RESUME_PREFIX)) keys.push(key);
        }
      } catch {
        keys = [];
      }
      const stale = keys.filter((key) => !this.read(key));
      stale.forEach((key) => this.remove(key));
      return stale.length;
    }

    /**
     * @private
     * @returns {ResumeRecord | null | undefined} undefined: nothing there; null: unusable
     */
    read(key) {
      let text = null;
      try {
        text = this.storage ? this.storage.getItem(key) : null;
      } catch {
        return undefined;
      }
      if (text === null) return undefined;
      try {
        const record = JSON.parse(text);
        const valid =
          record &&
          typeof record.uploadId === "string" &&
          Number.isSafeInteger(record.size) &&
          Number.isSafeInteger(record.partSize) &&
          Number.isSafeInteger(record.partCount) &&
          typeof record.expiresAt === "string";
        if (!valid) return null;
        const deadline = Date.parse(record.expiresAt);
        return Number.isFinite(deadline) && deadline > this.now() ? record : null;
      } catch {
        return null;
      }
    }

    /** @private */
    remove(key) {
      try {
        if (this.storage) this.storage.removeItem(key);
      } catch {
        // Nothing to do.
      }
    }
  }

  /**
   * Whether the server's `GET uploads/<id>/parts/` answer lets `file` resume: the upload is
   * still pending and has the file's size.
   *
   * @param {any} answer
   * @param {{size: number}} file
   * @returns {boolean}
   */
  function canResume(answer, file) {
    return Boolean(answer) && answer.status === "pending" && answer.size === file.size;
  }

  // -- checksums and URLs ---------------------------------------------------------------------

  /**
   * Whether to send the whole file's SHA-256 in upload-url: checksums are on and the file is
   * small enough to go by post or put (multipart parts have their own checksums).
   *
   * @param {number} size
   * @param {{checksum?: string | null, multipartThreshold?: number}} options
   * @returns {boolean}
   */
  function wantsWholeFileChecksum(size, { checksum = null, multipartThreshold = Infinity } = {}) {
    return checksum === "sha256" && size <= multipartThreshold;
  }

  /**
   * The base64 of a Blob's SHA-256 (what S3's `x-amz-checksum-sha256` carries). Reads the
   * whole Blob into memory: give it one part's slice, or a file below the multipart threshold.
   *
   * @param {Blob} blob
   * @param {SubtleCrypto} [subtle]
   * @returns {Promise<string>}
   */
  async function sha256Base64(blob, subtle = defaultSubtle()) {
    if (!subtle) throw new Error("WebCrypto (crypto.subtle) is not available.");
    const digest = await subtle.digest("SHA-256", await blob.arrayBuffer());
    return base64(new Uint8Array(digest));
  }

  /**
   * Standard base64 (with padding) of some bytes.
   *
   * @param {Uint8Array} bytes
   * @returns {string}
   */
  function base64(bytes) {
    let binary = "";
    for (let index = 0; index < bytes.length; index += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
    }
    return btoa(binary);
  }

  /**
   * A URL for one upload from the picker's upload-detail URL template (which holds `placeholder`
   * where the id goes); `suffix` is appended, e.g. "parts/".
   *
   * @param {string} template
   * @param {string} placeholder
   * @param {string} uploadId
   * @param {string} [suffix]
   * @returns {string}
   */
  function uploadUrlFor(template, placeholder, uploadId, suffix = "") {
    const url = template.replace(placeholder, encodeURIComponent(uploadId));
    if (!suffix) return url;
    return (url.endsWith("/") ? url : url + "/") + suffix;
  }

  // -- private helpers ------------------------------------------------------------------------

  function requireInteger(name, value, min, max) {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
    }
  }

  function abortError() {
    const error = new Error("The operation was aborted.");
    error.name = "AbortError";
    return error;
  }

  function defaultSubtle() {
    return typeof crypto === "object" && crypto && crypto.subtle ? crypto.subtle : null;
  }

  /** cyrb53: a small, well-mixed 53-bit string hash (not cryptographic; keys only). */
  function hash53(text) {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  }

  const api = {
    S3_LIMITS,
    DEFAULT_CONCURRENCY,
    MAX_SIGN_BATCH,
    RESUME_PREFIX,
    planParts,
    missingParts,
    batches,
    retryDecision,
    backoffDelay,
    retry,
    wait,
    pool,
    BatchLoader,
    expiresSoon,
    PartProgress,
    percentOf,
    resumeKey,
    ResumeStore,
    canResume,
    wantsWholeFileChecksum,
    sha256Base64,
    base64,
    uploadUrlFor,
  };

  if (typeof module === "object" && module && module.exports) module.exports = api;
  if (typeof window === "object" && window) {
    window.PresignedTransfers = window.PresignedTransfers || {};
    window.PresignedTransfers.logic = api;
  }
})();
