-- wrk script: POST pre-signed, distinct Jira deliveries read from a file (bench/wrk_load.py
-- writes it). Each thread keeps every n-th request, pre-formatted, and sends them in turn;
-- a thread that runs out starts again (counted: "wrapped", repeats are duplicates).
-- File format, per request: "<signature>\t<delivery id>\t<body length>\n<body>\n".

local path = os.getenv("WRK_REQUESTS")
local threads = tonumber(os.getenv("WRK_THREADS") or "1")
local counter = 0
local all = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(all, thread)
end

function init(args)
  reqs = {}
  wrapped = 0
  local f = assert(io.open(path, "rb"))
  local n = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local sig, ident, len = line:match("^(%S+)\t(%S+)\t(%d+)$")
    local body = f:read(tonumber(len))
    f:read(1)
    if n % threads == id then
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/jira", {
        ["Content-Type"] = "application/json",
        ["X-Hub-Signature"] = sig,
        ["X-Atlassian-Webhook-Identifier"] = ident,
      }, body)
    end
    n = n + 1
  end
  f:close()
  i = 0
end

function request()
  i = i + 1
  if i > #reqs then
    i = 1
    wrapped = wrapped + 1
  end
  return reqs[i]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(all) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, wraps
  ))
end
