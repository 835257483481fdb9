-- wrk script: request a random line of PATHS_FILE (GET), or, with BODIES_FILE, POST each line
-- once, spread over the threads; always with the bearer token of TOKEN. Prints one JSON line.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines = {}
local position = 0
local token = os.getenv("TOKEN") or ""
local method = "GET"
local content_type = os.getenv("CONTENT_TYPE") or "application/fhir+json"
local path = os.getenv("POST_PATH") or "/"

function init(args)
  local file = os.getenv("BODIES_FILE")
  if file then
    method = "POST"
  else
    file = os.getenv("PATHS_FILE")
  end
  local index = 0
  local nthreads = tonumber(os.getenv("THREADS") or "1")
  for line in io.lines(file) do
    if method == "GET" or index % nthreads == id then
      table.insert(lines, line)
    end
    index = index + 1
  end
  math.randomseed(os.time() + id)
end

function request()
  local headers = {["Authorization"] = "Bearer " .. token}
  if method == "GET" then
    return wrk.format("GET", lines[math.random(#lines)], headers)
  end
  position = position + 1
  local body = lines[((position - 1) % #lines) + 1]
  headers["Content-Type"] = content_type
  return wrk.format("POST", path, headers, body)
end

local statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "non_2xx": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, errors, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
