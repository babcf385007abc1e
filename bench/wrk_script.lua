-- wrk script for bench_endpoints.py, configured through environment variables:
--   WRK_METHOD    GET or POST
--   WRK_PATH      request path; "{id}" is replaced by the next id of this thread
--   WRK_BODY      request body (JSON); "{id}" likewise; empty for none
--   WRK_SESSIONS  "sessionid:csrftoken,..." one signed-in user per wrk thread
--   WRK_IDS       prefix of id files, one per thread (PREFIX0, PREFIX1, ...), one id a line
--   WRK_CYCLE     "1": cycle through the ids; otherwise use each once (and count overruns)
--   WRK_PATH_B, WRK_BODY_B, WRK_IDS_B, WRK_CYCLE_B
--                 optional second candidate (same method): requests then alternate A, B, A...
-- done() prints one JSON line: requests, duration, errors, latency percentiles (µs).

local method = os.getenv("WRK_METHOD")

local function candidate(suffix)
   local path = os.getenv("WRK_PATH" .. suffix)
   if path == nil or path == "" then
      return nil
   end
   return {
      path = path,
      body = os.getenv("WRK_BODY" .. suffix) or "",
      ids_prefix = os.getenv("WRK_IDS" .. suffix) or "",
      cycle = os.getenv("WRK_CYCLE" .. suffix) == "1",
      ids = {},
      next_id = 1,
   }
end

local threads = {}
local count = 0

function setup(thread)
   thread:set("tindex", count)
   count = count + 1
   table.insert(threads, thread)
end

local candidates = {}
local turn = 0
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
   for _, suffix in ipairs({"", "_B"}) do
      local c = candidate(suffix)
      if c ~= nil then
         if c.ids_prefix ~= "" then
            for line in io.lines(c.ids_prefix .. tindex) do
               table.insert(c.ids, line)
            end
         end
         table.insert(candidates, c)
      end
   end
   if candidates[1].body ~= "" then
      headers["Content-Type"] = "application/json"
   end
   overruns = 0
end

function request()
   local c = candidates[(turn % #candidates) + 1]
   turn = turn + 1
   local p, b = c.path, c.body
   if #c.ids > 0 then
      if c.next_id > #c.ids then
         if not c.cycle then
            overruns = overruns + 1
         end
         c.next_id = 1
      end
      local id = c.ids[c.next_id]
      c.next_id = c.next_id + 1
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
