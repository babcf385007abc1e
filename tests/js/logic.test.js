// The pure logic of presigned_transfers' browser script (static/presigned_transfers/logic.js),
// in Node's own test runner: `node --test tests/js/` (or `tox -e js`).
"use strict";

const assert = require("node:assert/strict");
const { describe, it } = require("node:test");
const path = require("node:path");

const logic = require(
  path.join(__dirname, "../../presigned_transfers/static/presigned_transfers/logic.js")
);

const MiB = 1024 * 1024;

/** A Storage (localStorage) in memory, with an optional failure on every call. */
class MemoryStorage {
  constructor({ broken = false } = {}) {
    this.map = new Map();
    this.broken = broken;
  }
  check() {
    if (this.broken) throw new Error("SecurityError: storage disabled");
  }
  get length() {
    this.check();
    return this.map.size;
  }
  key(index) {
    this.check();
    return [...this.map.keys()][index] ?? null;
  }
  getItem(key) {
    this.check();
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.check();
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.check();
    this.map.delete(key);
  }
}

/** An UploadError-like failure. */
function failure(code, status = 0, details = {}) {
  return Object.assign(new Error(code), { code, status, details });
}

describe("planParts", () => {
  it("splits a file into numbered parts, the last one the rest", () => {
    const size = 13 * 8 * MiB - 123;
    const parts = logic.planParts(size, 8 * MiB, 13);
    assert.equal(parts.length, 13);
    assert.deepEqual(parts[0], { number: 1, start: 0, end: 8 * MiB, size: 8 * MiB });
    assert.deepEqual(parts[12], {
      number: 13,
      start: 12 * 8 * MiB,
      end: size,
      size: 8 * MiB - 123,
    });
    // Contiguous, no gaps, no overlap, the sizes add up.
    for (let index = 1; index < parts.length; index += 1) {
      assert.equal(parts[index].start, parts[index - 1].end);
      assert.equal(parts[index].number, index + 1);
    }
    assert.equal(
      parts.reduce((sum, part) => sum + part.size, 0),
      size
    );
  });

  it("allows one part below the 5 MiB minimum (it is the last)", () => {
    assert.deepEqual(logic.planParts(100, 100, 1), [{ number: 1, start: 0, end: 100, size: 100 }]);
    assert.deepEqual(logic.planParts(100, 8 * MiB, 1)[0].size, 100);
  });

  it("allows exactly 5 MiB parts and exactly 10,000 of them", () => {
    const parts = logic.planParts(10000 * 5 * MiB, 5 * MiB, 10000);
    assert.equal(parts.length, 10000);
    assert.equal(parts[9999].end, 10000 * 5 * MiB);
  });

  it("refuses parts below 5 MiB when there are several", () => {
    assert.throws(() => logic.planParts(10 * MiB, 5 * MiB - 1, 3), /below S3's minimum/);
  });

  it("refuses more than 10,000 parts", () => {
    assert.throws(() => logic.planParts(10001 * 5 * MiB, 5 * MiB, 10001), /part_count/);
  });

  it("refuses a plan that does not make the file", () => {
    assert.throws(() => logic.planParts(20 * MiB, 8 * MiB, 2), /do not make a file/);
    assert.throws(() => logic.planParts(16 * MiB, 8 * MiB, 3), /do not make a file/);
  });

  it("refuses nonsense numbers", () => {
    for (const [size, partSize, count] of [
      [0, 5 * MiB, 1],
      [10, 0, 1],
      [10, 10, 0],
      [10.5, 11, 1],
      [10, "10", 1],
      [10, 10, Number.NaN],
      [10, 6 * 1024 * MiB, 1],
    ]) {
      assert.throws(
        () => logic.planParts(size, partSize, count),
        RangeError,
        `${size} ${partSize}`
      );
    }
  });
});

describe("missingParts", () => {
  const plan = logic.planParts(3 * 5 * MiB - 10, 5 * MiB, 3);

  it("is every part when S3 has none", () => {
    assert.deepEqual(logic.missingParts(plan, []), [1, 2, 3]);
    assert.deepEqual(logic.missingParts(plan, undefined), [1, 2, 3]);
  });

  it("leaves out the parts S3 holds with the planned size", () => {
    const listed = [
      { part_number: 3, size: 5 * MiB - 10 },
      { part_number: 1, size: 5 * MiB },
    ];
    assert.deepEqual(logic.missingParts(plan, listed), [2]);
  });

  it("counts a listed part of the wrong size as missing", () => {
    const listed = [
      { part_number: 1, size: 5 * MiB - 1 },
      { part_number: 2, size: 5 * MiB },
      { part_number: 3, size: 5 * MiB }, // the last is smaller
    ];
    assert.deepEqual(logic.missingParts(plan, listed), [1, 3]);
  });

  it("ignores listed parts that are not in the plan", () => {
    assert.deepEqual(logic.missingParts(plan, [{ part_number: 7, size: 5 * MiB }]), [1, 2, 3]);
  });
});

describe("batches", () => {
  it("cuts into lists of at most 100 by default", () => {
    const numbers = Array.from({ length: 250 }, (_, i) => i + 1);
    const result = logic.batches(numbers);
    assert.deepEqual(
      result.map((batch) => batch.length),
      [100, 100, 50]
    );
    assert.deepEqual(result.flat(), numbers);
    assert.deepEqual(logic.batches([1, 2, 3], 2), [[1, 2], [3]]);
    assert.deepEqual(logic.batches([]), []);
  });
});

describe("retryDecision", () => {
  it("retries network failures, timeouts, 5xx and 429", () => {
    assert.equal(logic.retryDecision(failure("network")), "retry");
    assert.equal(logic.retryDecision(failure("server_unreachable")), "retry");
    assert.equal(logic.retryDecision(failure("storage_refused", 500)), "retry");
    assert.equal(
      logic.retryDecision(failure("storage_refused", 503, { storage_code: "SlowDown" })),
      "retry"
    );
    assert.equal(logic.retryDecision(failure("server_error", 502)), "retry");
    assert.equal(logic.retryDecision(failure("rate_limited", 429)), "retry");
    assert.equal(logic.retryDecision(failure("storage_refused", 408)), "retry");
  });

  it("signs again when the URL expired", () => {
    const expired = failure("storage_refused", 403, {
      storage_code: "AccessDenied",
      storage_message: "Request has expired",
    });
    assert.equal(logic.retryDecision(expired), "resign");
    assert.equal(
      logic.retryDecision(failure("storage_refused", 400, { storage_code: "ExpiredToken" })),
      "resign"
    );
  });

  it("gives up on refusals, cancels and unknown errors", () => {
    const refusals = [
      failure("storage_refused", 403, {
        storage_code: "AccessDenied",
        storage_message: "Access Denied",
      }),
      failure("storage_refused", 403, { storage_code: "SignatureDoesNotMatch" }),
      failure("storage_refused", 400, { storage_code: "BadDigest" }),
      failure("storage_refused", 412, { storage_code: "PreconditionFailed" }),
      failure("not_found", 404),
      failure("upload_not_pending", 409),
      failure("invalid_parts", 400),
      failure("not_authenticated", 401),
      failure("cancelled"),
      Object.assign(new Error("aborted"), { name: "AbortError" }),
      new TypeError("a bug"),
      null,
    ];
    for (const error of refusals)
      assert.equal(logic.retryDecision(error), null, String(error && error.code));
  });
});

describe("backoffDelay", () => {
  it("doubles, is capped, and half of it is jitter", () => {
    const low = { baseDelay: 1000, maxDelay: 8000, random: () => 0 };
    const high = { baseDelay: 1000, maxDelay: 8000, random: () => 0.999999 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => logic.backoffDelay(n, low)),
      [500, 1000, 2000, 4000, 4000, 4000]
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => logic.backoffDelay(n, high)),
      [1000, 2000, 4000, 8000, 8000]
    );
    assert.equal(logic.backoffDelay(2, { baseDelay: 1000, random: () => 0.5 }), 1500);
  });

  it("honours Retry-After up to the cap", () => {
    const options = { baseDelay: 1000, maxDelay: 8000, random: () => 0 };
    assert.equal(logic.backoffDelay(1, options, 3), 3000);
    assert.equal(logic.backoffDelay(1, options, 60), 8000);
    assert.equal(logic.backoffDelay(3, options, 1), 2000); // backoff is already longer
  });
});

describe("retry", () => {
  /** A sleep that records its pauses instead of waiting. */
  function recorder() {
    const pauses = [];
    return { pauses, sleep: async (ms) => void pauses.push(ms) };
  }

  it("retries a retryable failure with backoff, then succeeds", async () => {
    const { pauses, sleep } = recorder();
    const seen = [];
    const retries = [];
    let calls = 0;
    const result = await logic.retry(
      async (state) => {
        seen.push([state.attempt, state.decision, state.error && state.error.code]);
        calls += 1;
        if (calls < 3) throw failure("network");
        return "stored";
      },
      { sleep, random: () => 0, baseDelay: 100, onRetry: (info) => retries.push(info.attempt) }
    );
    assert.equal(result, "stored");
    assert.deepEqual(seen, [
      [1, null, null],
      [2, "retry", "network"],
      [3, "retry", "network"],
    ]);
    assert.deepEqual(pauses, [50, 100]);
    assert.deepEqual(retries, [1, 2]);
  });

  it("gives up after `attempts` tries with the last failure", async () => {
    const { pauses, sleep } = recorder();
    let calls = 0;
    await assert.rejects(
      logic.retry(
        async () => {
          calls += 1;
          throw failure("storage_refused", 503, { n: calls });
        },
        { sleep, attempts: 3, random: () => 0 }
      ),
      (error) => error.details.n === 3
    );
    assert.equal(calls, 3);
    assert.equal(pauses.length, 2);
  });

  it("does not retry a refusal", async () => {
    const { pauses, sleep } = recorder();
    let calls = 0;
    await assert.rejects(
      logic.retry(
        async () => {
          calls += 1;
          throw failure("storage_refused", 403, { storage_code: "AccessDenied" });
        },
        { sleep }
      ),
      /storage_refused/
    );
    assert.equal(calls, 1);
    assert.deepEqual(pauses, []);
  });

  it("tells the task to sign again after an expired URL, without a pause", async () => {
    const { pauses, sleep } = recorder();
    const decisions = [];
    const result = await logic.retry(
      async ({ decision }) => {
        decisions.push(decision);
        if (decision !== "resign") {
          throw failure("storage_refused", 403, { storage_message: "Request has expired" });
        }
        return "ok";
      },
      { sleep }
    );
    assert.equal(result, "ok");
    assert.deepEqual(decisions, [null, "resign"]);
    assert.deepEqual(pauses, [0]);
  });

  it("stops when the signal aborts, even during a pause", async () => {
    const controller = new AbortController();
    let calls = 0;
    const running = logic.retry(
      async () => {
        calls += 1;
        throw failure("network");
      },
      { signal: controller.signal, baseDelay: 60000 }
    );
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(running, { name: "AbortError" });
    assert.equal(calls, 1);
    // Already aborted: no further try.
    await assert.rejects(
      logic.retry(
        async () => {
          calls += 1;
          throw failure("network");
        },
        { signal: controller.signal }
      ),
      /network/
    );
    assert.equal(calls, 2);
  });

  it("waits for real with the default sleep", async () => {
    const started = Date.now();
    let calls = 0;
    await logic.retry(
      async () => {
        calls += 1;
        if (calls === 1) throw failure("network");
      },
      { baseDelay: 40, random: () => 0 }
    );
    assert.ok(Date.now() - started >= 15, "paused about 20 ms");
  });
});

describe("pool", () => {
  /** A worker whose tasks finish when told to, recording how many run at once. */
  function controllable() {
    const state = { running: 0, most: 0, started: [], finish: new Map() };
    const worker = (item) =>
      new Promise((resolve, reject) => {
        state.running += 1;
        state.most = Math.max(state.most, state.running);
        state.started.push(item);
        state.finish.set(item, (error) => {
          state.running -= 1;
          if (error) reject(error);
          else resolve(item * 10);
        });
      });
    return { state, worker };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it("runs at most 4 at a time by default, in order, and keeps the results' order", async () => {
    const { state, worker } = controllable();
    const items = [1, 2, 3, 4, 5, 6, 7];
    const running = logic.pool(items, worker);
    await tick();
    assert.deepEqual(state.started, [1, 2, 3, 4]);
    state.finish.get(3)();
    await tick();
    assert.deepEqual(state.started, [1, 2, 3, 4, 5]);
    for (const item of [1, 2, 4, 5]) state.finish.get(item)();
    await tick();
    for (const item of [6, 7]) state.finish.get(item)();
    assert.deepEqual(await running, [10, 20, 30, 40, 50, 60, 70]);
    assert.equal(state.most, 4);
    assert.equal(logic.DEFAULT_CONCURRENCY, 4);
  });

  it("honours another concurrency", async () => {
    let running = 0;
    let most = 0;
    const results = await logic.pool(
      [1, 2, 3, 4, 5],
      async (item) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return item;
      },
      { concurrency: 2 }
    );
    assert.deepEqual(results, [1, 2, 3, 4, 5]);
    assert.equal(most, 2);
    assert.deepEqual(await logic.pool([], async () => 1), []);
  });

  it("starts nothing after a failure, tells at once, rejects once all have settled", async () => {
    const { state, worker } = controllable();
    const errors = [];
    let settled = false;
    const running = logic.pool([1, 2, 3, 4, 5, 6], worker, {
      concurrency: 2,
      onError: (error) => errors.push(error.message),
    });
    running.catch(() => {}).finally(() => (settled = true));
    await tick();
    state.finish.get(1)(new Error("part 1 failed"));
    await tick();
    assert.deepEqual(errors, ["part 1 failed"]);
    assert.deepEqual(state.started, [1, 2]);
    assert.equal(settled, false, "part 2 is still running");
    state.finish.get(2)(new Error("part 2 aborted"));
    await assert.rejects(running, /part 1 failed/);
    assert.deepEqual(state.started, [1, 2]);
    assert.deepEqual(errors, ["part 1 failed"]);
  });
});

describe("BatchLoader", () => {
  it("loads the key asked for with the next ones not loaded yet", async () => {
    const requests = [];
    const loader = new logic.BatchLoader(
      async (keys) => {
        requests.push(keys);
        return keys.map((key) => [key, `url-${key}`]);
      },
      { order: [1, 2, 3, 4, 5, 6, 7], batchSize: 3 }
    );
    assert.deepEqual(await Promise.all([loader.get(1), loader.get(2), loader.get(3)]), [
      "url-1",
      "url-2",
      "url-3",
    ]);
    assert.deepEqual(await loader.get(5), "url-5");
    assert.deepEqual(await loader.get(4), "url-4");
    assert.deepEqual(requests, [[1, 2, 3], [5, 6, 7], [4]]);
  });

  it("loads a forgotten key again (an expired URL), with no others already loaded", async () => {
    const requests = [];
    let round = 0;
    const loader = new logic.BatchLoader(
      async (keys) => {
        round += 1;
        requests.push(keys);
        return keys.map((key) => [key, `${key}@${round}`]);
      },
      { order: [1, 2, 3], batchSize: 10 }
    );
    assert.equal(await loader.get(2), "2@1");
    loader.forget(2);
    assert.equal(await loader.get(2), "2@2");
    assert.equal(await loader.get(3), "3@1");
    assert.deepEqual(requests, [[2, 3], [2]]);
    // A key outside the order is loaded alone.
    assert.equal(await loader.get(9), "9@3");
  });

  it("forgets a failed load so the next get asks again; a missing entry is an error", async () => {
    let calls = 0;
    const loader = new logic.BatchLoader(
      async (keys) => {
        calls += 1;
        if (calls === 1) throw new Error("server unreachable");
        return keys.filter((key) => key !== 3).map((key) => [key, key * 2]);
      },
      { order: [1, 2, 3] }
    );
    const first = loader.get(1);
    const second = loader.get(2); // in the same batch
    await assert.rejects(first, /server unreachable/);
    await assert.rejects(second, /server unreachable/);
    assert.equal(await loader.get(2), 4, "the whole failed batch was forgotten");
    await assert.rejects(loader.get(3), /no entry for 3/);
    assert.equal(calls, 2);
  });

  it("refuses batches over the server's limit of 100", () => {
    assert.throws(() => new logic.BatchLoader(async () => [], { order: [], batchSize: 101 }));
    assert.equal(logic.MAX_SIGN_BATCH, 100);
  });
});

describe("expiresSoon", () => {
  it("is true within the margin of the deadline", () => {
    assert.equal(logic.expiresSoon(100000, 50000), false);
    assert.equal(logic.expiresSoon(100000, 70000), true);
    assert.equal(logic.expiresSoon(100000, 99000, 0), false);
    assert.equal(logic.expiresSoon(Number.NaN, 1e15), false);
  });
});

describe("PartProgress", () => {
  // Small parts (below S3's minimum, which progress does not care about).
  const plan = [
    { number: 1, start: 0, end: 10, size: 10 },
    { number: 2, start: 10, end: 20, size: 10 },
    { number: 3, start: 20, end: 25, size: 5 },
  ];

  it("adds finished parts and what the running ones sent", () => {
    const progress = new logic.PartProgress(25);
    assert.equal(progress.update(plan[0], 4), 4);
    assert.equal(progress.update(plan[1], 6), 10);
    assert.equal(progress.done(plan[0]), 16);
    assert.equal(progress.done(plan[0]), 16, "done twice counts once");
    assert.equal(progress.update(plan[2], 500), 21, "a part never counts more than its size");
    assert.equal(progress.done(plan[1]), 25);
    assert.equal(progress.done(plan[2]), 25);
  });

  it("never goes backwards when a part starts again", () => {
    const progress = new logic.PartProgress(25);
    progress.update(plan[0], 8);
    progress.reset(plan[0]);
    assert.equal(progress.loaded, 8);
    assert.equal(progress.update(plan[0], 3), 8);
    assert.equal(progress.update(plan[0], 9), 9);
  });

  it("starts from the parts found in storage when resuming", () => {
    const progress = new logic.PartProgress(25);
    progress.done(plan[2]);
    assert.equal(progress.loaded, 5);
    assert.equal(progress.update(plan[2], 1), 5, "a finished part ignores late reports");
  });
});

describe("percentOf", () => {
  it("is a whole number, 99 at most until confirmed", () => {
    assert.equal(logic.percentOf(0, 100), 0);
    assert.equal(logic.percentOf(355, 1000), 35);
    assert.equal(logic.percentOf(1000, 1000), 99);
    assert.equal(logic.percentOf(5, 0), 0);
  });
});

describe("resume records", () => {
  const file = { name: "film ü.mov", size: 200 * MiB, lastModified: 1700000000000 };
  const signed = {
    upload_id: "3f1c2d4e-0000-4000-8000-000000000001",
    transport: "multipart",
    part_size: 8 * MiB,
    part_count: 25,
    checksum: "sha256",
    expires_at: "2030-01-01T00:00:00+00:00",
  };
  const now = () => Date.parse("2029-12-31T12:00:00Z");

  it("keys on name, size, last modification and policy, without the name in clear", () => {
    const key = logic.resumeKey(file, "videos");
    assert.ok(key.startsWith(logic.RESUME_PREFIX));
    assert.ok(!key.includes("film"));
    assert.equal(logic.resumeKey({ ...file }, "videos"), key);
    for (const other of [
      logic.resumeKey({ ...file, name: "film u.mov" }, "videos"),
      logic.resumeKey({ ...file, size: file.size + 1 }, "videos"),
      logic.resumeKey({ ...file, lastModified: file.lastModified + 1 }, "videos"),
      logic.resumeKey(file, "images"),
      logic.resumeKey(file, null),
    ]) {
      assert.notEqual(other, key);
    }
    assert.equal(logic.resumeKey(file, null), logic.resumeKey(file, ""));
  });

  it("stores what resuming needs, finds it again, forgets it", () => {
    const storage = new MemoryStorage();
    const store = new logic.ResumeStore(storage, { now });
    assert.equal(store.lookup(file, "videos"), null);
    const record = store.save(file, "videos", signed);
    assert.deepEqual(record, {
      uploadId: signed.upload_id,
      size: file.size,
      partSize: 8 * MiB,
      partCount: 25,
      checksum: "sha256",
      expiresAt: signed.expires_at,
    });
    assert.deepEqual(JSON.parse(storage.getItem(logic.resumeKey(file, "videos"))), record);
    assert.deepEqual(store.lookup(file, "videos"), record);
    assert.equal(store.lookup(file, "other"), null);
    assert.equal(store.lookup({ ...file, lastModified: 1 }, "videos"), null);
    store.forget(file, "videos");
    assert.equal(store.lookup(file, "videos"), null);
    assert.equal(storage.length, 0);
  });

  it("drops expired and unreadable records on lookup and prune", () => {
    const storage = new MemoryStorage();
    const store = new logic.ResumeStore(storage, { now });
    store.save(file, null, { ...signed, expires_at: "2029-12-31T11:59:59Z" });
    assert.equal(store.lookup(file, null), null);
    assert.equal(storage.length, 0, "the expired record is gone");

    store.save(file, "a", signed);
    store.save({ ...file, name: "old" }, "a", { ...signed, expires_at: "2001-01-01T00:00:00Z" });
    storage.setItem(logic.RESUME_PREFIX + "junk", "{not json");
    storage.setItem(logic.RESUME_PREFIX + "partial", JSON.stringify({ uploadId: "x" }));
    storage.setItem("someone-else", "kept");
    assert.equal(store.prune(), 3);
    assert.deepEqual(
      [...storage.map.keys()].sort(),
      [logic.resumeKey(file, "a"), "someone-else"].sort()
    );
  });

  it("never fails when storage is missing or broken", () => {
    for (const storage of [null, undefined, new MemoryStorage({ broken: true })]) {
      const store = new logic.ResumeStore(storage, { now });
      assert.deepEqual(store.save(file, null, signed).uploadId, signed.upload_id);
      assert.equal(store.lookup(file, null), null);
      store.forget(file, null);
      assert.equal(store.prune(), 0);
    }
  });

  it("resumes only a pending upload of the same size", () => {
    const answer = { upload_id: signed.upload_id, status: "pending", size: file.size, parts: [] };
    assert.equal(logic.canResume(answer, file), true);
    assert.equal(logic.canResume({ ...answer, status: "complete" }, file), false);
    assert.equal(logic.canResume({ ...answer, size: file.size - 1 }, file), false);
    assert.equal(logic.canResume(null, file), false);
  });
});

describe("checksums", () => {
  it("wants the whole file's SHA-256 only when on and below the multipart threshold", () => {
    const options = { checksum: "sha256", multipartThreshold: 64 * MiB };
    assert.equal(logic.wantsWholeFileChecksum(64 * MiB, options), true);
    assert.equal(logic.wantsWholeFileChecksum(64 * MiB + 1, options), false);
    assert.equal(logic.wantsWholeFileChecksum(10, { ...options, checksum: null }), false);
    assert.equal(logic.wantsWholeFileChecksum(10, {}), false);
  });

  it("computes base64 SHA-256 of a Blob as S3 expects", async () => {
    // Known vectors: SHA-256("") and SHA-256("abc").
    assert.equal(
      await logic.sha256Base64(new Blob([])),
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert.equal(
      await logic.sha256Base64(new Blob(["abc"])),
      "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
    // Only the slice is read.
    const blob = new Blob(["xxabcyy"]);
    assert.equal(
      await logic.sha256Base64(blob.slice(2, 5)),
      "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
    await assert.rejects(logic.sha256Base64(new Blob(["a"]), null), /WebCrypto/);
  });

  it("encodes large byte arrays in base64", () => {
    const bytes = new Uint8Array(100000).map((_, i) => i % 256);
    assert.equal(logic.base64(bytes), Buffer.from(bytes).toString("base64"));
    assert.equal(logic.base64(new Uint8Array([])), "");
  });
});

describe("uploadUrlFor", () => {
  it("puts the id in the detail URL template and appends a suffix", () => {
    const template = "/xfer-9f3/uploads/00000000-0000-0000-0000-000000000000/";
    const id = "3f1c2d4e-0000-4000-8000-000000000001";
    const placeholder = "00000000-0000-0000-0000-000000000000";
    assert.equal(logic.uploadUrlFor(template, placeholder, id), `/xfer-9f3/uploads/${id}/`);
    assert.equal(
      logic.uploadUrlFor(template, placeholder, id, "parts/"),
      `/xfer-9f3/uploads/${id}/parts/`
    );
    assert.equal(
      logic.uploadUrlFor("/u/00000000-0000-0000-0000-000000000000", placeholder, id, "parts/"),
      `/u/${id}/parts/`
    );
  });
});
