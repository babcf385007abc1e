-- wrk script for bench_endpoints.py, configured through environment variables:
--   WRK_METHOD    GET or POST
--   WRK_PATH      request path; "{id}" is replaced by the next id of this thread
--   WRK_BODY      request body (JSON); "{id}" likewise; empty for none
--   WRK_SESSIONS  "sessionid:csrftoken,..." one signed-in user per wrk thread
--   WRK_IDS       prefix of id files, one per thread (PREFIX0, PREFIX1, ...), one id a line
--   WRK_CYCLE     "1": cycle through the ids; otherwise use each once (and count overruns)
-- done() prints one JSON line: requests, duration, errors, latency percentiles (µs).

local method = os.getenv("WRK_METHOD")
local path = os.getenv("WRK_PATH")
local body = os.getenv("WRK_BODY") or ""
local ids_prefix = os.getenv("WRK_IDS") or ""
local cycle = os.getenv("WRK_CYCLE") == "1"

local threads = {}
local count = 0

function setup(thread)
   thread:set("tindex", count)
   count = count + 1
   table.insert(threads, thread)
end

local ids = {}
local next_id = 1
local headers = {}

function init(args)
   local sessions = {}
   for item in string.gmatch(os.getenv("WRK_SESSIONS"), "[^,]+") do
      table.insert(sessions, item)
   end
   local session = sessions[(tindex % #sessions) + 1]
   local sid, csrf = string.match(session, "([^:]+):([^:]+)")
   headers["Cookie"] = "sessionid=" .. sid .. "; csrftoken=" .. csrf
   headers["X-CSRFToken"] = csrf
   if body ~= "" then
      headers["Content-Type"] = "application/json"
   end
   if ids_prefix ~= "" then
      for line in io.lines(ids_prefix .. tindex) do
         table.insert(ids, line)
      end
   end
   overruns = 0
end

function request()
   local p, b = path, body
   if #ids > 0 then
      if next_id > #ids then
         if cycle then
            next_id = 1
         else
            overruns = overruns + 1
            next_id = 1
         end
      end
      local id = ids[next_id]
      next_id = next_id + 1
      p = string.gsub(p, "{id}", id)
      b = string.gsub(b, "{id}", id)
   end
   if b == "" then
      b = nil
   end
   return wrk.format(method, p, headers, b)
end

function done(summary, latency, requests)
   local overrun = 0
   for _, thread in ipairs(threads) do
      overrun = overrun + (thread:get("overruns") or 0)
   end
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
      '"write_errors": %d, "status_errors": %d, "timeouts": %d, "overruns": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.status, summary.errors.timeout, overrun,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
