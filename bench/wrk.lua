-- wrk driver for scripts/bench.mjs. Arguments (after `--`): a file of ready HTTP requests, one per
-- line with "\n" escaped as the two characters \n, the thread count, and a pause in milliseconds
-- between a connection's answer and its next request (used only by bench/wrk-paced.lua). Each thread starts at its
-- own offset and cycles through the list, so threads do not send the same token at the same moment.
-- At the end it prints one line, "BENCH_RESULT {json}", with counts of every status seen.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  requests = {}
  for line in file:lines() do
    if line ~= "" then
      requests[#requests + 1] = (line:gsub("\\n", "\r\n"))
    end
  end
  file:close()
  local threads_total = tonumber(args[2]) or 1
  position = math.floor(#requests * index / threads_total)
  pause = tonumber(args[3]) or 0
  statuses = {}
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency)
  local seen = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      seen[status] = (seen[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(seen) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
